// Signs webhook requests the way Twilio and Plivo do, written from their
// SDKs' algorithms and kept apart from api/telephony/signatures.ts on
// purpose: if the router's verification drifts from the providers', tests
// that sign with this fail. test/unit/api/telephony/signatures.test.ts pins
// it to vectors made by the providers' own libraries.
import { createHmac, randomBytes } from 'node:crypto';

export type Form = Record<string, string | string[]>;

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function formBody(params: Form): string {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of list(value)) body.append(name, v);
  return body.toString();
}

/** base64 HMAC-SHA1 over the URL, then each parameter name and value, names sorted, each name's values sorted and unique. */
export function twilioSign(authToken: string, url: string, params: Form): string {
  const names = Object.keys(params).sort();
  const data = url + names.map((name) => [...new Set(list(params[name] as string | string[]))].sort().map((v) => name + v).join('')).join('');
  return createHmac('sha1', authToken).update(data).digest('base64');
}

/** A form POST as Twilio sends it to `url` (the public URL it was configured with). */
export function twilioRequest(authToken: string, url: string, params: Form): SignedRequest {
  return {
    body: formBody(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSign(authToken, url, params) },
  };
}

/**
 * Plivo V3 for a POST: the URL up to its query; `?` and the sorted query as
 * `k=v&k=v` (the `?` also when only POST parameters follow); `.` between a
 * query and POST parameters; the sorted POST parameters as `kv`; then `.`
 * and the nonce. base64 HMAC-SHA256.
 */
export function plivoSign(authToken: string, url: string, nonce: string, params: Form): string {
  const [path, query = ''] = url.split('#')[0]!.split(/\?(.*)/s) as [string, string?];
  const pairs: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(query)) pairs.push([k, v]);
  const grouped = new Map<string, string[]>();
  for (const [k, v] of pairs) grouped.set(k, [...(grouped.get(k) ?? []), v]);
  const queryPart = [...grouped.keys()].sort().flatMap((k) => grouped.get(k)!.sort().map((v) => `${k}=${v}`)).join('&');
  const postNames = Object.keys(params).sort();
  const postPart = postNames.map((k) => [...list(params[k] as string | string[])].sort().map((v) => k + v).join('')).join('');
  let data = path;
  if (queryPart || postNames.length) data += `?${queryPart}`;
  if (queryPart && postNames.length) data += '.';
  data += `${postPart}.${nonce}`;
  return createHmac('sha256', authToken).update(data).digest('base64');
}

/** A form POST as Plivo sends it, with a fresh nonce. */
export function plivoRequest(authToken: string, url: string, params: Form, nonce = randomBytes(10).toString('hex')): SignedRequest {
  return {
    body: formBody(params),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-plivo-signature-v3': plivoSign(authToken, url, nonce, params),
      'x-plivo-signature-v3-nonce': nonce,
    },
  };
}
