import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { Allocation, CallRouter } from '../call-router.js';
import { HttpError } from '../errors.js';
import { merchantOf } from '../routes/calls.js';
import { validateBody } from '../validation.js';
import { isTerminalStatus, type Provider } from './call-status.js';
import { plivoSpeakHangup, plivoStream, twimlConnectStream, twimlSayHangup } from './markup.js';
import { verifyPlivoV3Signature, verifyTwilioSignature, type FormParams } from './signatures.js';

/** The telephony settings (see core/config.ts), plus the router's bearer token, which Exotel may send instead of basic auth. */
export type TelephonyOptions = Config['telephony'] & { apiToken?: string };

interface RouteQuery {
  merchantId?: string;
  tier?: string;
}

const first = (v: unknown): string | undefined => (Array.isArray(v) ? first(v[0]) : typeof v === 'string' ? v : undefined);
const digest = (s: string) => createHash('sha256').update(s).digest();
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/**
 * Webhooks that telephony providers call directly: allocate answers with the
 * markup that streams the call's audio to its pod; status callbacks release
 * the call when the provider says it ended. Twilio and Plivo always get
 * markup they can play (a failure is spoken, then the call hangs up), never
 * an HTTP error that would make them play their own.
 */
export function telephonyRoutes(router: CallRouter, options: TelephonyOptions, registry: Registry, logger: Logger): Router {
  const callbacks = new Counter({
    name: 'smart_router_provider_callbacks_total',
    help: 'Provider webhooks by provider, call status and result (allocated, refused, released, unknown_call, ignored, invalid_signature, invalid_request).',
    labelNames: ['provider', 'status', 'result'] as const,
    registers: [registry],
  });
  if (!options.verifySignatures) logger.warn('provider signature verification is OFF: anyone who can reach the router can allocate and release calls');

  const routes = Router();
  const form = express.urlencoded({ extended: false, limit: 16 * 1024, parameterLimit: 200 });
  const json = express.json({ limit: 16 * 1024 });

  /** The URL the provider signed: what it called, as the public sees it. */
  const publicUrl = (req: Request) =>
    options.publicUrl ? `${options.publicUrl.replace(/\/$/, '')}${req.originalUrl}` : `${req.protocol}://${req.host}${req.originalUrl}`;

  const refuse = (provider: Provider, req: Request, res: Response, status: number, error: string) => {
    callbacks.inc({ provider, status: '', result: status === 403 ? 'invalid_signature' : 'invalid_request' });
    logger.warn('provider request refused', { provider, path: req.path, status, error });
    res.status(status).json({ error });
  };

  const notConfigured = (provider: Provider, variables: string) => {
    return new HttpError(503, { error: `${provider} is not configured: set ${variables}, or TELEPHONY_VERIFY_SIGNATURES=false for local testing` });
  };

  const verifyTwilio: RequestHandler = (req, res, next) => {
    if (!options.verifySignatures) return next();
    if (!options.twilioAuthToken) return next(notConfigured('twilio', 'TWILIO_AUTH_TOKEN'));
    if (!verifyTwilioSignature(options.twilioAuthToken, publicUrl(req), (req.body ?? {}) as FormParams, req.get('x-twilio-signature'))) {
      return refuse('twilio', req, res, 403, 'invalid signature');
    }
    next();
  };

  const verifyPlivo: RequestHandler = (req, res, next) => {
    if (!options.verifySignatures) return next();
    if (!options.plivoAuthToken) return next(notConfigured('plivo', 'PLIVO_AUTH_TOKEN'));
    const ok = verifyPlivoV3Signature(options.plivoAuthToken, publicUrl(req), req.get('x-plivo-signature-v3-nonce'), (req.body ?? {}) as FormParams, req.get('x-plivo-signature-v3'));
    if (!ok) return refuse('plivo', req, res, 403, 'invalid signature');
    next();
  };

  // Exotel signs nothing; it sends the credentials it was given: HTTP basic
  // (EXOTEL_API_KEY:EXOTEL_API_TOKEN) or the router's bearer token.
  const verifyExotel: RequestHandler = (req, res, next) => {
    if (!options.verifySignatures) return next();
    const basic = options.exotelApiKey && options.exotelApiToken ? `${options.exotelApiKey}:${options.exotelApiToken}` : undefined;
    if (!basic && !options.apiToken) return next(notConfigured('exotel', 'EXOTEL_API_KEY and EXOTEL_API_TOKEN (or API_TOKEN)'));
    const header = req.get('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const basicCreds = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1];
    const decoded = basicCreds ? Buffer.from(basicCreds, 'base64').toString('utf8') : undefined;
    if ((bearer && options.apiToken && sameSecret(bearer, options.apiToken)) || (decoded && basic && sameSecret(decoded, basic))) return next();
    callbacks.inc({ provider: 'exotel', status: '', result: 'invalid_signature' });
    logger.warn('provider request refused', { provider: 'exotel', path: req.path, status: 401, error: 'missing or invalid credentials' });
    res.status(401).set('WWW-Authenticate', 'Basic realm="smart-router"').json({ error: 'missing or invalid credentials' });
  };

  /** merchant_id (or reseller_id) and tier from the query string, checked like the JSON API's. */
  const routeQuery = (req: Request, callSid: string): RouteQuery => {
    const q = req.query as Record<string, unknown>;
    const body = validateBody<{ merchant_id?: string; reseller_id?: string; tier?: string }>('AllocateRequest', {
      call_sid: callSid,
      ...(first(q.merchant_id) !== undefined ? { merchant_id: first(q.merchant_id) } : {}),
      ...(first(q.reseller_id) !== undefined ? { reseller_id: first(q.reseller_id) } : {}),
      ...(first(q.tier) !== undefined ? { tier: first(q.tier) } : {}),
    });
    return { merchantId: merchantOf(body), tier: body.tier };
  };

  const validCallSid = (value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    try {
      validateBody('ReleaseRequest', { call_sid: value });
      return value;
    } catch {
      return undefined;
    }
  };

  /** Allocates for a provider, turning every failure into a reason the caller can hear. */
  async function allocateFor(provider: Provider, req: Request, callSid: string | undefined) {
    const sid = validCallSid(callSid);
    if (!sid) return { ok: false as const, reason: 'invalid call id', status: 400 };
    let query: RouteQuery;
    try {
      query = routeQuery(req, sid);
    } catch (err) {
      return { ok: false as const, reason: (err as Error).message, status: 400 };
    }
    try {
      const allocation = await router.allocate({ callSid: sid, merchantId: query.merchantId, tier: query.tier, provider });
      if (!allocation) return { ok: false as const, reason: 'no pods available', status: 503 };
      return { ok: true as const, allocation };
    } catch (err) {
      logger.error('provider allocation failed', { provider, call_sid: sid, error: (err as Error).message });
      return { ok: false as const, reason: 'routing store unavailable', status: 503 };
    }
  }

  /** Twilio and Plivo answer with markup: a stream to the pod, or the failure message spoken and a hang-up. */
  const markupAllocate = (provider: 'twilio' | 'plivo', sidField: string, stream: (a: Allocation) => string, spoken: (message: string) => string): RequestHandler =>
    async function allocateWithMarkup(req, res) {
      const sid = first(req.body?.[sidField]);
      const result = await allocateFor(provider, req, sid);
      res.type('text/xml');
      if (!result.ok) {
        callbacks.inc({ provider, status: '', result: 'refused' });
        logger.warn('provider call refused', { provider, call_sid: sid, reason: result.reason });
        res.send(spoken(options.failureMessage));
        return;
      }
      callbacks.inc({ provider, status: '', result: 'allocated' });
      res.send(stream(result.allocation));
    };

  routes.post(
    '/twilio/allocate',
    form,
    verifyTwilio,
    markupAllocate('twilio', 'CallSid', (a) => twimlConnectStream(a.wsUrl, { call_sid: a.callSid, pod_name: a.pod, pool: a.pool }), twimlSayHangup),
  );
  routes.post('/plivo/allocate', form, verifyPlivo, markupAllocate('plivo', 'CallUUID', (a) => plivoStream(a.wsUrl, { call_sid: a.callSid, pod_name: a.pod }), plivoSpeakHangup));

  const exotelAllocate: RequestHandler = async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const sid = first(body.CallSid) ?? first((req.query as Record<string, unknown>).CallSid);
    const result = await allocateFor('exotel', req, sid);
    if (!result.ok) {
      callbacks.inc({ provider: 'exotel', status: '', result: 'refused' });
      res.status(result.status).json({ error: result.reason === 'invalid call id' ? (sid === undefined ? 'CallSid is required' : 'CallSid is invalid') : result.reason });
      return;
    }
    callbacks.inc({ provider: 'exotel', status: '', result: 'allocated' });
    res.json({ url: result.allocation.wsUrl });
  };
  routes.get('/exotel/allocate', verifyExotel, exotelAllocate);
  routes.post('/exotel/allocate', form, json, verifyExotel, exotelAllocate);

  /** A status callback: a terminal status releases the call; anything else, or an unknown call, is a harmless 200. */
  const statusCallback = (provider: Provider, sidField: string, statusOf: (body: Record<string, unknown>) => string | undefined): RequestHandler =>
    async function onStatus(req, res) {
      const body = { ...(req.query as Record<string, unknown>), ...((req.body ?? {}) as Record<string, unknown>) };
      const status = statusOf(body)?.toLowerCase() ?? '';
      const sid = validCallSid(first(body[sidField]));
      if (!sid) {
        callbacks.inc({ provider, status, result: 'invalid_request' });
        res.status(400).json({ error: `${sidField} is required and must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$` });
        return;
      }
      if (!isTerminalStatus(provider, status)) {
        callbacks.inc({ provider, status, result: 'ignored' });
        res.json({ success: true, released: false });
        return;
      }
      const released = await router.release(sid, `${provider}:${status}`);
      callbacks.inc({ provider, status, result: released ? 'released' : 'unknown_call' });
      res.json({ success: true, released: Boolean(released) });
    };

  routes.post('/twilio/status', form, verifyTwilio, statusCallback('twilio', 'CallSid', (b) => first(b.CallStatus)));
  routes.post(
    '/plivo/status',
    form,
    verifyPlivo,
    statusCallback('plivo', 'CallUUID', (b) => first(b.CallStatus) ?? (first(b.Event)?.toLowerCase() === 'hangup' ? 'hangup' : undefined)),
  );
  routes.post('/exotel/status', form, json, verifyExotel, statusCallback('exotel', 'CallSid', (b) => first(b.Status) ?? first(b.CallStatus)));

  return routes;
}
