import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormParams = Record<string, string | string[]>;

const values = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/**
 * Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of
 * the full URL Twilio called followed by every POST parameter, sorted by
 * name, as name then value with nothing between.
 */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    for (const value of values(params[key] as string | string[])) data += key + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function verifyTwilioSignature(authToken: string, url: string, params: FormParams, signature: string | undefined): boolean {
  return Boolean(signature) && safeEqual(twilioSignature(authToken, url, params), signature as string);
}

function sortedQuery(params: Map<string, string[]>): string {
  const parts: string[] = [];
  for (const key of [...params.keys()].sort()) {
    for (const value of [...(params.get(key) as string[])].sort()) parts.push(`${key}=${value}`);
  }
  return parts.join('&');
}

/**
 * The string Plivo's V3 signature covers for a POST: the URL without its
 * query, then `?` and the query parameters sorted (`k=v` joined by `&`),
 * then, when there are both, `.`, then the POST parameters sorted as `k=v`
 * with nothing between.
 */
export function plivoV3SigningString(url: string, params: FormParams): string {
  const parsed = new URL(url);
  const base = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  const query = new Map<string, string[]>();
  for (const [key, value] of parsed.searchParams) query.set(key, [...(query.get(key) ?? []), value]);
  const queryString = sortedQuery(query);
  const hasPost = Object.keys(params).length > 0;
  let out = base;
  if (queryString.length > 0 || hasPost) out += `?${queryString}`;
  if (queryString.length > 0 && hasPost) out += '.';
  for (const key of Object.keys(params).sort()) {
    for (const value of [...values(params[key] as string | string[])].sort()) out += `${key}=${value}`;
  }
  return out;
}

/** Plivo's X-Plivo-Signature-V3: base64 HMAC-SHA256 of the signing string, `.`, and the nonce. */
export function plivoV3Signature(authToken: string, url: string, nonce: string, params: FormParams): string {
  return createHmac('sha256', authToken).update(`${plivoV3SigningString(url, params)}.${nonce}`, 'utf8').digest('base64');
}

/** Accounts with several auth tokens get several comma-separated signatures: any match is valid. */
export function verifyPlivoV3Signature(authToken: string, url: string, nonce: string | undefined, params: FormParams, header: string | undefined): boolean {
  if (!header || !nonce) return false;
  const expected = plivoV3Signature(authToken, url, nonce, params);
  return header.split(',').some((candidate) => safeEqual(candidate.trim(), expected));
}
