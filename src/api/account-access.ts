/**
 * Which account a request acts on, and whether its principal may. One policy for every
 * account-scoped route (accounts, billing, usage):
 *
 * | principal              | reads                                  | writes (grants, subscriptions) |
 * |------------------------|----------------------------------------|--------------------------------|
 * | user / developer (JWT) | own account only                       | never (403 `forbidden`)        |
 * | admin (JWT)            | any account of its project             | any account of its project     |
 * | API key                | the key's own account                  | never                          |
 * | service                | any account (names `account_id`)       | any account                    |
 *
 * Another project's account and an id that does not exist answer the same 403
 * `wrong_project`, so an outsider learns nothing about which ids exist. A service that
 * declared a project (`X-Project-Id`) is held to it. Services act on behalf of users and
 * every service call on an account is written to the log with the service's name.
 */
import { assertSameProject, type Principal } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { accountProject } from '../state/account.ts'
import { accountIdFor } from '../state/model.ts'
import type { ReplicaStore } from '../store/types.ts'

/** Account ids as the API accepts them (derived ids are `acc_` + 24 hex digits). */
export const ACCOUNT_ID_RE = /^acc_[0-9a-f]{24}$/

// Principals are immutable and a verified JWT's is reused across requests (the verifier's
// cache): remember its account id rather than build and hash accountIdFor's memo key again.
const ownIds = new WeakMap<Principal, string>()

/** The principal's own account id, or undefined for a service. */
export function ownAccountId (p: Principal): string | undefined {
  if (p.kind === 'service') return undefined
  if (p.accountId !== undefined) return p.accountId
  let id = ownIds.get(p)
  if (id === undefined) ownIds.set(p, id = accountIdFor(p.projectId, p.sub))
  return id
}

/** 404 for the caller's own account before `POST /accounts` created it, with the hint. */
export function noAccountYet (): FormStateError {
  return new FormStateError('not_found', 'you have no account yet; create it with POST /accounts', {
    extra: { hint: { method: 'POST', path: '/accounts' } },
  })
}

function sameAnswerForMissing (): FormStateError {
  return new FormStateError('wrong_project', 'not permitted for this project')
}

export type AccessMode = 'read' | 'write'

export interface AccessRequest {
  /** The `account_id` the request named, if any. */
  requested?: string | undefined
  mode: AccessMode
  /** Route label for the service audit line. */
  action: string
}

/**
 * Resolves and authorises the target account of a request; the returned account exists.
 * Throws 400 (a service that named no account), 403 (`forbidden` / `wrong_project`) or
 * 404 (the caller's own account does not exist yet; a service naming an unknown id).
 */
export function accountFor (store: ReplicaStore, log: Logger, p: Principal, req: AccessRequest): string {
  if (p.kind === 'service') {
    if (req.requested === undefined) throw new FormStateError('invalid_field', 'a service must name the account (account_id)', { field: 'account_id' })
    const project = accountProject(store, req.requested)
    if (project === undefined) throw new FormStateError('not_found', 'no such account', { field: 'account_id' })
    if (p.actingFor !== undefined) assertSameProject(p, project)
    log.info('service account access', { service: p.serviceName, action: req.action, account_id: req.requested, project_id: project })
    return req.requested
  }
  const own = ownAccountId(p)!
  const isAdmin = p.kind === 'user' && p.role === 'admin'
  if (req.mode === 'write' && !isAdmin) throw new FormStateError('forbidden', 'requires role admin (or service credentials)')
  const target = req.requested ?? own
  if (target === own) {
    if (accountProject(store, own) === undefined) throw noAccountYet()
    return own
  }
  // Someone else's account: only a project admin, and only inside its project. Users never
  // get a lookup at all, so their answer cannot depend on whether the id exists.
  if (!isAdmin) throw new FormStateError('forbidden', 'you may act only on your own account')
  const project = accountProject(store, target)
  if (project === undefined) throw sameAnswerForMissing()
  assertSameProject(p, project)
  return target
}
