import type { Request, RequestHandler } from 'express';
import { BEARER_TOKEN_PATTERN } from '../core/config.js';
import type { Credentials, Scope } from './credentials.js';

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined.
 * Strict on purpose (RFC 6750: the scheme, one space, a b64token): a token
 * with whitespace inside or around it is not a token, rather than a guess.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer (\S+)$/i.exec(header ?? '');
  return match && BEARER_TOKEN_PATTERN.test(match[1] as string) ? match[1] : undefined;
}

/** Routes a telephony service calls. */
const ROUTING_PATHS = new Set(['/allocate', '/release']);
/** The preStop hook's route, exactly as written: any other spelling Express might also accept needs admin. */
const WAIT_IDLE_PATH = /^\/pod\/[^/]+\/wait-idle$/;

const ROUTING: readonly Scope[] = ['routing'];
const AGENT: readonly Scope[] = ['agent', 'admin'];
const ADMIN: readonly Scope[] = ['admin'];

/**
 * The scopes a request under /api/v1 may hold, any one of them enough, by
 * method and path (relative to /api/v1), narrowest first. Every route not
 * named here, present or future, needs admin.
 */
export function scopesFor(method: string, path: string): readonly Scope[] {
  if (ROUTING_PATHS.has(path)) return ROUTING;
  if (method === 'POST' && WAIT_IDLE_PATH.test(path)) return AGENT;
  return ADMIN;
}

const UNAUTHORIZED = { error: 'missing or invalid bearer token' };

/**
 * Lets a request through when its bearer token holds a scope its route
 * accepts: no or an unknown token is a 401, a valid token of another scope a
 * 403. Runs before any body is read, so an unauthenticated client never gets
 * as far as the JSON parser, let alone Redis. With no credential configured
 * at all everything passes (the process warns about it at start).
 */
export function requireScope(credentials: Credentials, scopesOf: (req: Request) => readonly Scope[]): RequestHandler {
  return (req, res, next) => {
    if (!credentials.enforced) return next();
    const needed = scopesOf(req);
    const token = bearerToken(req.get('authorization'));
    const held = token === undefined ? new Set<Scope>() : credentials.scopesOf(token);
    if (needed.some((scope) => held.has(scope))) return next();
    // The connection is closed after a refusal: an unread request body is never read.
    res.set('Connection', 'close');
    if (held.size === 0) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="smart-router"').json(UNAUTHORIZED);
      return;
    }
    res
      .status(403)
      .set('WWW-Authenticate', `Bearer realm="smart-router", error="insufficient_scope", scope="${needed[0]}"`)
      .json({ error: `this token lacks the ${needed.join(' or ')} scope` });
  };
}
