/**
 * Bearer-token authentication and scope checks of the HTTP API. Every request is authenticated
 * before its body is read: no token, an unknown one or a revoked one is 401; a route whose scope
 * the token lacks (a read token on an admin route) is 403, and so is a project-restricted token
 * asking about another project (routes check that through `projectsFor`). Scope `admin` includes
 * `read`. The secret is never logged, echoed or kept: only its hash is looked up.
 */
import type { FastifyRequest } from 'fastify'
import { RpoError } from '../core/errors.js'
import type { ApiToken, TokenScope, TokenStore } from '../store/token-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated token (set by the auth hook before any route runs). */
    apiToken?: ApiToken
  }
  interface FastifyContextConfig {
    /** The scope a token needs for the route; a route without one cannot be registered. */
    scope?: TokenScope
  }
}

const BEARER = /^Bearer ([^\s]+)$/i

export function authenticator(tokens: TokenStore, clock: () => number) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    if (header === undefined || header === '')
      throw new RpoError(
        'unauthenticated',
        'this API needs a bearer token: `Authorization: Bearer rpo_…` (create one with `rpo token create`)',
      )
    const match = BEARER.exec(header)
    if (!match) throw new RpoError('unauthenticated', 'the Authorization header must be `Bearer <token>`')
    const token = await tokens.verify(match[1] as string, clock())
    if (!token) throw new RpoError('unauthenticated', 'unknown token (`rpo token list` shows the tokens there are)')
    if (token.revokedAt !== null)
      throw new RpoError('unauthenticated', `token ${token.id} was revoked at ${token.revokedAt}`)
    request.apiToken = token
    const needed = request.routeOptions.config?.scope
    if (needed === 'admin' && token.scope !== 'admin')
      throw new RpoError('forbidden', `token ${token.id} has scope ${token.scope}; this route needs an admin token`)
  }
}

/**
 * The projects a request may see: what it asked for (all when it asked for none), within the
 * token's project. Asking about another project than the token's is refused (403).
 */
export function projectsFor(token: ApiToken, asked: readonly string[] | undefined): string[] | undefined {
  if (token.project === null) return asked && asked.length > 0 ? [...asked] : undefined
  const other = (asked ?? []).find((p) => p !== token.project)
  if (other !== undefined) throw forbiddenProject(token, other)
  return [token.project]
}

/** Refuse a project-restricted token anything of another project (null: of no project). */
export function requireProject(token: ApiToken, project: string | null): void {
  if (token.project !== null && project !== token.project) throw forbiddenProject(token, project)
}

function forbiddenProject(token: ApiToken, project: string | null): RpoError {
  return new RpoError(
    'forbidden',
    `token ${token.id} may see project ${token.project} only, not ${project === null ? 'what belongs to no project' : `project ${project}`}`,
  )
}
