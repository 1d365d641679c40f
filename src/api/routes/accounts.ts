/**
 * Accounts: `POST /accounts` (create the caller's account, idempotent), `GET /accounts/me`,
 * `GET /accounts/:id`. Who may read which account is decided in `account-access.ts`.
 */
import { z } from 'zod'
import { FormStateError } from '../../errors.ts'
import { accountView } from '../../state/account.ts'
import { ensureAccount } from '../../state/billing-actions.ts'
import type { ReplicaStore } from '../../store/types.ts'
import type { BillingConfig } from '../../state/tiers.ts'
import { accountFor, ownAccountId } from '../account-access.ts'
import { accountId, accountViewSchema } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

type View = z.input<typeof accountViewSchema>

/** The account as the API shows it (404 when it does not exist). */
export function viewOf (store: ReplicaStore, billing: BillingConfig, deps: Pick<ApiDeps, 'activeKeyCount'>, id: string): View {
  const v = accountView(store, billing, id, deps.activeKeyCount ?? (() => 0))
  return { ...v, status: v.subscription.status }
}

export function registerAccountRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, billing, log } = deps

  table.add(defineRoute({
    method: 'POST',
    path: '/accounts',
    summary: 'Create your account in your project (idempotent)',
    description: 'Creates the account of the token\'s subject in its project, with the free tier\'s included credits. ' +
      '201 the first time; 200 with the same account afterwards. Takes no body.',
    auth: 'jwt',
    status: 201,
    response: accountViewSchema,
    handler: async ({ principal, ctx }) => {
      if (principal.projectId === '') throw new FormStateError('forbidden', 'the token names no project')
      const { id, created } = await ensureAccount(store, billing, principal.projectId, principal.sub, deps.now())
      if (!created) ctx.status = 200
      else log.info('account created', { account_id: id, project_id: principal.projectId, owner: principal.sub })
      return viewOf(store, billing, deps, id)
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/accounts/me',
    summary: 'Your account: plan, status, credit balance, agent slots, key count',
    description: '404 with a hint to POST /accounts when you have no account yet.',
    auth: ['jwt', 'api_key'],
    errors: ['not_found'],
    response: accountViewSchema,
    handler: ({ principal }) => {
      const id = accountFor(store, log, principal, { mode: 'read', action: 'GET /accounts/me', requested: ownAccountId(principal) })
      return viewOf(store, billing, deps, id)
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/accounts/:id',
    summary: 'One account (your own; a project admin: any of the project; a service: any)',
    description: 'Another project\'s account and an unknown id both answer 403 wrong_project.',
    auth: ['jwt', 'api_key', 'service'],
    params: z.strictObject({ id: accountId }),
    errors: ['wrong_project', 'not_found'],
    response: accountViewSchema,
    handler: ({ principal, params }) => {
      const id = accountFor(store, log, principal, { mode: 'read', action: 'GET /accounts/:id', requested: params.id })
      return viewOf(store, billing, deps, id)
    },
  }))
}
