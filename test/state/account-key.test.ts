// accountKey keeps the last key it built: it must never answer with another account's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { accountKey } from '../../src/state/model.ts'

test('accountKey answers each id with its own key, however calls interleave', () => {
  const ids = ['acc_1', 'acc_2', 'acc_1', 'acc_1', '', 'acc_2', 'x'.repeat(40)]
  for (const id of ids) assert.equal(accountKey(id), 'acct/' + id)
  // Equal ids given as distinct string objects get the same key.
  assert.equal(accountKey(['acc', '3'].join('_')), accountKey('acc_3'))
})
