// Test fixtures for JWT tests: key pairs, hand-built tokens (node:crypto, no jose, so the
// tests control every byte an attacker could), and a real JWKS/OIDC HTTP server.
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface TestKey {
  readonly alg: 'RS256' | 'ES256' | 'EdDSA' | 'RS384'
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** Public JWK with kid/alg/use as a JWKS would carry it. */
  readonly jwk: Record<string, unknown>
}

export function makeKey (alg: TestKey['alg'] = 'RS256', kid = `k-${randomBytes(4).toString('hex')}`): TestKey {
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
  return { alg, kid, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk }
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

/** Signs header.payload with `key` using the algorithm named in `header.alg`. */
export function signToken (header: Record<string, unknown>, payload: Record<string, unknown>, key: TestKey): string {
  const input = `${b64(header)}.${b64(payload)}`
  let sig: Buffer
  switch (header.alg) {
    case 'RS256': sig = sign('sha256', Buffer.from(input), key.privateKey); break
    case 'RS384': sig = sign('sha384', Buffer.from(input), key.privateKey); break
    case 'ES256': sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }); break
    case 'EdDSA': sig = sign(null, Buffer.from(input), key.privateKey); break
    default: throw new Error(`fixture cannot sign ${String(header.alg)}`)
  }
  return `${input}.${sig.toString('base64url')}`
}

/** An HS256 token whose HMAC key is `secret` (e.g. the victim's public key bytes). */
export function hmacToken (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

/** An unsigned token as an attacker would write it. */
export function noneToken (header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64(header)}.${b64(payload)}.`
}

export const nowS = (): number => Math.floor(Date.now() / 1000)

/** Standard good claims for `iss`/`aud`, valid for an hour. */
export function claims (iss: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const t = nowS()
  return { iss, aud: 'form-state', sub: 'user-1', project_id: 'proj_a', role: 'developer', iat: t, exp: t + 3600, ...extra }
}

export function token (key: TestKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return signToken({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }, payload, key)
}

/** A JWKS + OIDC discovery server on 127.0.0.1 with counters and failure switches. */
export interface KeyServer {
  readonly base: string
  readonly jwksUrl: string
  keys: Array<Record<string, unknown>>
  jwksFetches: number
  discoveryFetches: number
  jwksStatus: number
  discoveryStatus: number
  /** Override for the discovery document's `issuer` (default: `base`). */
  discoveryIssuer: string | undefined
  close (): Promise<void>
}

export async function startKeyServer (initial: TestKey[] = []): Promise<KeyServer> {
  const state = {
    keys: initial.map((k) => k.jwk),
    jwksFetches: 0,
    discoveryFetches: 0,
    jwksStatus: 200,
    discoveryStatus: 200,
    discoveryIssuer: undefined as string | undefined,
  }
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      state.jwksFetches++
      res.writeHead(state.jwksStatus, { 'content-type': 'application/json' })
      res.end(state.jwksStatus === 200 ? JSON.stringify({ keys: state.keys }) : '{"error":"down"}')
    } else if (req.url === '/.well-known/openid-configuration') {
      state.discoveryFetches++
      res.writeHead(state.discoveryStatus, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ issuer: state.discoveryIssuer ?? base, jwks_uri: `${base}/jwks.json` }))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(state, {
    base,
    jwksUrl: `${base}/jwks.json`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  })
}

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
