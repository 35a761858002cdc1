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

/** Routes a telephony service calls; every other /api/v1 route, present or future, needs the admin scope. */
const ROUTING_PATHS = new Set(['/allocate', '/release']);

/** The scope a request under /api/v1 needs, by path (relative to /api/v1). */
export function scopeFor(path: string): Scope {
  return ROUTING_PATHS.has(path) ? 'routing' : 'admin';
}

const UNAUTHORIZED = { error: 'missing or invalid bearer token' };

/**
 * Lets a request through when its bearer token holds the scope its route
 * needs: no or an unknown token is a 401, a valid token of another scope a
 * 403. Runs before any body is read, so an unauthenticated client never gets
 * as far as the JSON parser, let alone Redis. With no credential configured
 * at all everything passes (the process warns about it at start).
 */
export function requireScope(credentials: Credentials, scopeOf: (req: Request) => Scope): RequestHandler {
  return (req, res, next) => {
    if (!credentials.enforced) return next();
    const needed = scopeOf(req);
    const token = bearerToken(req.get('authorization'));
    const held = token === undefined ? new Set<Scope>() : credentials.scopesOf(token);
    if (held.has(needed)) return next();
    // The connection is closed after a refusal: an unread request body is never read.
    res.set('Connection', 'close');
    if (held.size === 0) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="smart-router"').json(UNAUTHORIZED);
      return;
    }
    res.status(403).set('WWW-Authenticate', `Bearer realm="smart-router", error="insufficient_scope", scope="${needed}"`).json({ error: `this token lacks the ${needed} scope` });
  };
}
