import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { bearerToken } from '../auth.js';
import type { Credentials } from '../credentials.js';
import type { WebhookNonces } from '../../lua/webhook-nonces.js';
import { HttpError } from '../errors.js';
import type { Provider } from './call-status.js';
import { verifyPlivoV3Signature, verifyTwilioSignature, type FormParams } from './signatures.js';

/** The telephony settings (see core/config.ts), plus the router's credentials: Exotel may send a routing token instead of basic auth. */
export type TelephonyOptions = Config['telephony'] & { credentials?: Credentials; nonces?: WebhookNonces };

/** Told of every refused request, to count it. */
export type OnRefused = (provider: Provider) => void;

const sha256 = (s: string) => createHash('sha256').update(s).digest();
/** Compares digests, so neither the secret's length nor its content leaks through timing. */
const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));

/**
 * The URL the provider called and signed, as the public sees it: PUBLIC_URL
 * plus the path and query when set (a proxy may rewrite the host), else
 * rebuilt from X-Forwarded-Proto and X-Forwarded-Host (the app trusts its proxy).
 */
export function signedUrl(req: Request, publicUrl: string | undefined): string {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}${req.originalUrl}` : `${req.protocol}://${req.host}${req.originalUrl}`;
}

const formParams = (req: Request): FormParams => {
  const body: unknown = req.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as FormParams) : {};
};

/** What is missing per provider when verification is on; empty when all is set. */
export function missingSecrets(options: TelephonyOptions): Partial<Record<Provider, string>> {
  if (!options.verifySignatures) return {};
  const missing: Partial<Record<Provider, string>> = {};
  if (!options.twilioAuthToken) missing.twilio = 'TWILIO_AUTH_TOKEN';
  if (!options.plivoAuthToken) missing.plivo = 'PLIVO_AUTH_TOKEN';
  if (!(options.exotelApiKey && options.exotelApiToken) && !options.credentials?.enforced) missing.exotel = 'EXOTEL_API_KEY and EXOTEL_API_TOKEN (or a routing token)';
  return missing;
}

/**
 * One middleware per provider that lets a request through only when it
 * proves where it came from: Twilio and Plivo sign, Exotel sends the
 * credentials it was given. Refusals are logged (provider, path, why; never
 * a secret) and answered here; a provider whose secret is not set answers
 * 503 naming the variable, rather than trusting anyone.
 */
export function providerAuth(options: TelephonyOptions, logger: Logger, onRefused: OnRefused): Record<Provider, RequestHandler> {
  const missing = missingSecrets(options);
  const notConfigured = (provider: Provider) =>
    new HttpError(503, { error: `${provider} is not configured: set ${missing[provider]}, or TELEPHONY_VERIFY_SIGNATURES=false for local testing` });

  const refuse = (provider: Provider, req: Request, reason: string) => {
    onRefused(provider);
    logger.warn('provider request refused', { provider, path: `${req.baseUrl}${req.path}`, reason });
  };

  /** Verification off, or the provider's secret missing, or the check itself. */
  const guard =
    (provider: Provider, check: (req: Request) => boolean, refusal: { status: number; reason: (req: Request) => string; headers?: Record<string, string> }): RequestHandler =>
    (req, res, next) => {
      if (!options.verifySignatures) return next();
      if (missing[provider]) return next(notConfigured(provider));
      if (check(req)) return next();
      refuse(provider, req, refusal.reason(req));
      res.status(refusal.status).set(refusal.headers ?? {}).json({ error: refusal.status === 403 ? 'invalid signature' : 'missing or invalid credentials' });
    };

  const twilio = guard('twilio', (req) => verifyTwilioSignature(options.twilioAuthToken as string, signedUrl(req, options.publicUrl), formParams(req), req.get('x-twilio-signature')), {
    status: 403,
    reason: (req) => (req.get('x-twilio-signature') ? 'signature does not match' : 'no X-Twilio-Signature'),
  });

  // X-Plivo-Signature-Ma-V3 is signed with the main account's token: it lets
  // PLIVO_AUTH_TOKEN be the main account's token for subaccount numbers too.
  const plivoSignature = guard(
    'plivo',
    (req) => {
      const url = signedUrl(req, options.publicUrl);
      const nonce = req.get('x-plivo-signature-v3-nonce');
      const token = options.plivoAuthToken as string;
      const own = verifyPlivoV3Signature(token, url, nonce, formParams(req), req.get('x-plivo-signature-v3'));
      const main = verifyPlivoV3Signature(token, url, nonce, formParams(req), req.get('x-plivo-signature-ma-v3'));
      return own || main;
    },
    {
      status: 403,
      reason: (req) => (req.get('x-plivo-signature-v3') && req.get('x-plivo-signature-v3-nonce') ? 'signature does not match' : 'no X-Plivo-Signature-V3 or nonce'),
    },
  );

  // Plivo signs no timestamp: a captured request verifies forever. Its nonce
  // is remembered (in Redis, so every replica knows it) for
  // PLIVO_NONCE_TTL_SECONDS, and the same nonce again is refused.
  const plivoReplay: RequestHandler = (req, res, next) => {
    if (!options.verifySignatures || !options.nonces) return next();
    const nonce = req.get('x-plivo-signature-v3-nonce') as string;
    options.nonces.firstUse('plivo', nonce, options.plivoNonceTtlSeconds).then(
      (first) => {
        if (first) return next();
        refuse('plivo', req, 'nonce already used: a replayed request');
        res.status(403).json({ error: 'replayed request' });
      },
      // Redis down: let it pass. Nothing a replay could do works without Redis,
      // and the handler then answers with markup Plivo can play.
      (err: unknown) => {
        logger.warn('plivo nonce not checked: redis unavailable', { error: (err as Error).message });
        next();
      },
    );
  };
  const plivo: RequestHandler = (req, res, next) => plivoSignature(req, res, (err?: unknown) => (err ? next(err) : plivoReplay(req, res, next)));

  // Exotel signs nothing; it sends the credentials it was given: HTTP basic
  // (EXOTEL_API_KEY:EXOTEL_API_TOKEN) or the router's bearer token.
  const basic = options.exotelApiKey && options.exotelApiToken ? `${options.exotelApiKey}:${options.exotelApiToken}` : undefined;
  const exotel = guard(
    'exotel',
    (req) => {
      const header = req.get('authorization') ?? '';
      const basicCredentials = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1];
      if (/^Bearer /i.test(header)) {
        const bearer = bearerToken(header);
        return bearer !== undefined && options.credentials !== undefined && options.credentials.scopesOf(bearer).has('routing');
      }
      if (basicCredentials !== undefined) return basic !== undefined && sameSecret(Buffer.from(basicCredentials, 'base64').toString('utf8'), basic);
      return false;
    },
    {
      status: 401,
      reason: (req) => (req.get('authorization') ? 'credentials do not match' : 'no Authorization header'),
      headers: { 'WWW-Authenticate': 'Basic realm="smart-router"' },
    },
  );

  return { twilio, plivo, exotel };
}
