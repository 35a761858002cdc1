import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Requires `Authorization: Bearer <token>` when a token is configured. The
 * comparison is over fixed-length digests, so it takes the same time however
 * much of a wrong token matches.
 */
export function requireBearerToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1] as string), expected)) return next();
    res.status(401).set('WWW-Authenticate', 'Bearer realm="smart-router"').json({ error: 'missing or invalid bearer token' });
  };
}
