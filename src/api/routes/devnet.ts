/**
 * The devnet's built-in token issuer (devnet only; `formstate node` never registers it):
 * `GET /devnet/jwks.json`, `GET /devnet/.well-known/openid-configuration` and
 * `POST /devnet/token`. Anyone who can reach a devnet can mint tokens: that is its purpose.
 */
import { z } from 'zod'
import { MAX_TTL_S, type DevnetIssuer } from '../../auth/devnet-issuer.ts'
import { ROLES } from '../../auth/principal.ts'
import { FormStateError } from '../../errors.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

export interface DevnetRouteDeps {
  issuer: () => DevnetIssuer | undefined
}

const idString = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'letters, digits and . _ : @ -, at most 128')

export const devnetTokenRequest = z.strictObject({
  sub: idString,
  project_id: idString,
  role: z.enum(ROLES),
  scope: z.string().max(1024).regex(/^[a-z:_ ]*$/, 'space-separated scopes').optional(),
  ttl_s: z.number().int().min(1).max(MAX_TTL_S).optional(),
})

export function registerDevnetRoutes (table: RouteTable, deps: DevnetRouteDeps): void {
  const issuer = (): DevnetIssuer => {
    const i = deps.issuer()
    if (i === undefined) throw new FormStateError('not_ready', 'the devnet issuer is not ready yet')
    return i
  }
  table.add(defineRoute({
    method: 'GET',
    path: '/devnet/jwks.json',
    summary: 'Public keys of the devnet token issuer',
    tag: 'devnet',
    auth: 'public',
    response: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
    handler: () => issuer().jwks() as { keys: Array<Record<string, unknown>> },
  }))
  table.add(defineRoute({
    method: 'GET',
    path: '/devnet/.well-known/openid-configuration',
    summary: 'OIDC discovery document of the devnet issuer',
    tag: 'devnet',
    auth: 'public',
    response: z.object({ issuer: z.string(), jwks_uri: z.string(), id_token_signing_alg_values_supported: z.array(z.string()) }),
    handler: () => issuer().discoveryDocument(),
  }))
  table.add(defineRoute({
    method: 'POST',
    path: '/devnet/token',
    summary: 'Mint an RS256 token for testing (devnet only)',
    tag: 'devnet',
    auth: 'public',
    body: devnetTokenRequest,
    response: z.object({ token: z.string(), issuer: z.string(), audience: z.string(), expires_in: z.number() }),
    handler: async ({ body }) => {
      const i = issuer()
      const token = await i.sign(body)
      return { token, issuer: i.issuer, audience: i.audience, expires_in: body.ttl_s ?? 3600 }
    },
  }))
}
