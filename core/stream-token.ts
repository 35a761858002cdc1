import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stream tokens: proof, inside the ws_url, that smart-router sent this call
 * to this pod. The router signs pod, call_sid and an expiry with a secret
 * it shares with the voice agents (WS_TOKEN_SECRET); an agent verifies the
 * token when the stream connects and refuses a stream the router did not
 * send it. No I/O and no dependency beyond node:crypto, so agents written in
 * TypeScript import it as `smart-router/stream-token`; the recipe below is
 * enough for any other language.
 *
 * Token: `v1.<expiry>.<signature>`
 *   expiry    Unix time in seconds after which the token is refused
 *   signature base64url (no padding) HMAC-SHA256, keyed by the secret, of
 *             `v1\n<pod>\n<call_sid>\n<expiry>`
 */
export const STREAM_TOKEN_VERSION = 'v1';

export interface StreamTokenClaims {
  pod: string;
  callSid: string;
  /** Unix seconds. */
  expiresAt: number;
}

export type StreamTokenCheck = { ok: true; expiresAt: number } | { ok: false; reason: 'malformed' | 'expired' | 'bad signature' | 'no secret' };

const signature = (secret: string, claims: StreamTokenClaims) =>
  createHmac('sha256', secret).update(`${STREAM_TOKEN_VERSION}\n${claims.pod}\n${claims.callSid}\n${claims.expiresAt}`, 'utf8').digest('base64url');

export function signStreamToken(secret: string, claims: StreamTokenClaims): string {
  if (!secret) throw new Error('a stream token needs a secret');
  if (!Number.isSafeInteger(claims.expiresAt) || claims.expiresAt < 0) throw new Error(`expiresAt must be whole Unix seconds, got ${claims.expiresAt}`);
  return `${STREAM_TOKEN_VERSION}.${claims.expiresAt}.${signature(secret, claims)}`;
}

/**
 * Checks a token for the pod the agent is and the call_sid in the stream's
 * URL. `secrets` may hold several during a rotation (new and old): any
 * match is valid. `nowSeconds` defaults to the clock; allow for skew with
 * `leewaySeconds`.
 */
export function verifyStreamToken(
  secrets: string | readonly string[],
  token: string,
  expected: { pod: string; callSid: string },
  options: { nowSeconds?: number; leewaySeconds?: number } = {},
): StreamTokenCheck {
  const keys = (typeof secrets === 'string' ? [secrets] : [...secrets]).filter(Boolean);
  if (keys.length === 0) return { ok: false, reason: 'no secret' };
  const match = /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return { ok: false, reason: 'malformed' };
  const expiresAt = Number(match[1]);
  const presented = Buffer.from(match[2] as string);
  let valid = false;
  for (const secret of keys) {
    const wanted = Buffer.from(signature(secret, { ...expected, expiresAt }));
    // Every secret is tried, so the time taken does not tell which one matched.
    if (wanted.length === presented.length && timingSafeEqual(wanted, presented)) valid = true;
  }
  if (!valid) return { ok: false, reason: 'bad signature' };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (now > expiresAt + (options.leewaySeconds ?? 0)) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt };
}
