// The layering rules of ../shared/DESIGN.md, checked on every import in the tree.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function files (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...files(p))
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"\n]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

function importsOf (file: string): string[] {
  const src = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of src.matchAll(IMPORT)) out.push((m[1] ?? m[2])!)
  return out
}

/** Which folder may import a package (plus the composition root and the CLI). */
const OWNERS: Array<[RegExp, string]> = [
  [/^(libp2p|@libp2p\/|@multiformats\/|@chainsafe\/)/, 'src/replication/'],
  [/^jose$/, 'src/auth/'],
  [/^(level|classic-level|memory-level|abstract-level)$/, 'src/store/'],
]
const ANYWHERE = ['src/node.ts', 'src/cli/']

test('crdt/ imports nothing from src/ and no package', () => {
  const bad: string[] = []
  for (const f of files('crdt')) {
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('./')) bad.push(`${f} imports ${spec}`)
    }
  }
  assert.deepEqual(bad, [])
})

test('only the owning folder imports libp2p, jose and level', () => {
  const bad: string[] = []
  for (const f of files('src')) {
    if (ANYWHERE.some((p) => f.startsWith(p))) continue
    for (const spec of importsOf(f)) {
      for (const [re, owner] of OWNERS) {
        if (re.test(spec) && !f.startsWith(owner)) bad.push(`${f} imports ${spec} (only ${owner} may)`)
      }
    }
  }
  assert.deepEqual(bad, [])
})

test('src/api/ does not reach into src/replication/', () => {
  const bad = files('src/api').filter((f) => importsOf(f).some((s) => s.includes('/replication/')))
  assert.deepEqual(bad, [])
})

test('the layering check sees a violation when there is one', () => {
  // Guards the regex itself: a checker that matches nothing would pass everything.
  const sample = "import { x } from 'jose'\nexport { y } from '../src/store/a.ts'\nconst z = await import('libp2p')"
  const specs = [...sample.matchAll(IMPORT)].map((m) => m[1] ?? m[2])
  assert.deepEqual(specs, ['jose', '../src/store/a.ts', 'libp2p'])
})
