import { createHmac, timingSafeEqual } from 'node:crypto';

/** Form parameters as express.urlencoded gives them: a repeated name becomes an array. */
export type FormParams = Record<string, string | string[]>;

const valuesOf = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Scheme and authority (`https://host:port`), the rest (path, query), as written: nothing is normalized. */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(.*)$/i;

/**
 * Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of
 * the full URL Twilio called followed by every POST parameter, sorted by
 * name, as name then value with nothing between. A repeated parameter's
 * values are sorted and deduplicated, as Twilio's own libraries do.
 */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    for (const value of [...new Set(valuesOf(params[key]))].sort()) data += key + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * The URL with its port toggled: an explicit port removed, or the scheme's
 * standard one added. Twilio signs some requests with the port and some
 * without, so its libraries accept either form; so does this.
 */
export function twilioAlternateUrl(url: string): string | undefined {
  const parts = URL_PARTS.exec(url);
  if (!parts) return undefined;
  const origin = parts[1] as string;
  const withPort = /^(.*?)(:\d+)$/.exec(origin);
  if (withPort) return `${withPort[1]}${parts[2]}`;
  const standard = /^https:/i.test(origin) ? ':443' : /^http:/i.test(origin) ? ':80' : undefined;
  return standard ? `${origin}${standard}${parts[2]}` : undefined;
}

export function verifyTwilioSignature(authToken: string, url: string, params: FormParams, signature: string | undefined): boolean {
  if (!signature) return false;
  const alternate = twilioAlternateUrl(url);
  // Both forms are always computed, so the time taken says nothing about which one matched.
  const direct = safeEqual(twilioSignature(authToken, url, params), signature);
  const toggled = alternate !== undefined && safeEqual(twilioSignature(authToken, alternate, params), signature);
  return direct || toggled;
}

/**
 * The string Plivo's V3 signature covers for a POST, as Plivo's SDKs build
 * it: the URL without its query (scheme, host and port as called), then `?`
 * and the query parameters sorted as `name=value` joined by `&`, then, when
 * there are both, `.`, then the POST parameters sorted as `namevalue` with
 * nothing between. With no POST parameters the `?` comes only with a query.
 */
export function plivoV3SigningString(url: string, params: FormParams): string {
  const [withoutFragment] = url.split('#') as [string];
  const queryAt = withoutFragment.indexOf('?');
  const base = queryAt < 0 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const query = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(queryAt < 0 ? '' : withoutFragment.slice(queryAt + 1))) {
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  const queryString = [...query.keys()]
    .sort()
    .flatMap((key) => [...(query.get(key) as string[])].sort().map((value) => `${key}=${value}`))
    .join('&');
  const hasPost = Object.keys(params).length > 0;
  let out = base;
  if (queryString.length > 0 || hasPost) out += `?${queryString}`;
  if (queryString.length > 0 && hasPost) out += '.';
  for (const key of Object.keys(params).sort()) {
    for (const value of [...valuesOf(params[key])].sort()) out += key + value;
  }
  return out;
}

/** Plivo's X-Plivo-Signature-V3: base64 HMAC-SHA256 of the signing string, `.`, and the nonce. */
export function plivoV3Signature(authToken: string, url: string, nonce: string, params: FormParams): string {
  return createHmac('sha256', authToken).update(`${plivoV3SigningString(url, params)}.${nonce}`, 'utf8').digest('base64');
}

/**
 * Checks a V3 signature header. While an account has two auth tokens (during
 * a rotation) Plivo sends one signature per token, comma-separated: any match
 * is valid.
 */
export function verifyPlivoV3Signature(authToken: string, url: string, nonce: string | undefined, params: FormParams, header: string | undefined): boolean {
  if (!header || !nonce) return false;
  const expected = plivoV3Signature(authToken, url, nonce, params);
  return header
    .split(',')
    .map((candidate) => safeEqual(candidate.trim(), expected))
    .some(Boolean);
}
