import express, { Router, type Request, type RequestHandler } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../core/logger.js';
import type { Allocation, CallRouter } from '../call-router.js';
import { CallEndedError, DeadlineExceededError, OverloadedError, StoreUnavailableError } from '../errors.js';
import { clientGone, merchantOf } from '../routes/calls.js';
import { validateBody } from '../validation.js';
import { isTerminalStatus, statusLabel, type Provider } from './call-status.js';
import { plivoHangup, plivoSpeakHangup, plivoStream, twimlConnectStream, twimlHangup, twimlSayHangup } from './markup.js';
import { missingSecrets, providerAuth, type TelephonyOptions } from './provider-auth.js';

export type { TelephonyOptions } from './provider-auth.js';

const CALL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const BODY_LIMIT = 16 * 1024;

type Params = Record<string, unknown>;

/** A parameter's value: a string, or the first of a repeated one; anything else is absent. */
const first = (v: unknown): string | undefined => (Array.isArray(v) ? first(v[0]) : typeof v === 'string' ? v : undefined);
const paramsOf = (value: unknown): Params => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Params) : {});
/** Request values go into logs cut short: a log line is not a place for 16 KiB of someone's input. */
const forLog = (value: unknown) => (typeof value === 'string' && value.length > 140 ? `${value.slice(0, 140)}…` : value);

/**
 * Why a call got no pod, and how Exotel (which reads HTTP statuses) should
 * hear it. 409: the call already ended (`reason` says how), nothing was taken.
 */
type Refusal = { status: 400 | 409 | 500 | 503; error: string; reason?: string };
type AllocateResult = { ok: true; allocation: Allocation } | { ok: false; refusal: Refusal };

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
    help: 'Provider webhooks by provider, call status and result (allocated, refused, call_ended, released, unknown_call, ignored, invalid_signature, invalid_request).',
    labelNames: ['provider', 'status', 'result'] as const,
    registers: [registry],
  });
  if (!options.verifySignatures) {
    logger.warn('provider signature verification is OFF (TELEPHONY_VERIFY_SIGNATURES=false): anyone who can reach the router can allocate and release calls');
  }
  if (options.verifySignatures && !options.publicUrl) {
    logger.warn('PUBLIC_URL is not set: signed URLs are rebuilt from the request and X-Forwarded-* of trusted proxies (TRUST_PROXY); behind a proxy that terminates TLS or rewrites the host, set PUBLIC_URL or every signature fails');
  }
  for (const [provider, variables] of Object.entries(missingSecrets(options))) {
    logger.warn('provider not configured: its webhooks answer 503', { provider, set: variables });
  }

  const auth = providerAuth(options, logger, (provider) => callbacks.inc({ provider, status: '', result: 'invalid_signature' }));
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 200 });
  const json = express.json({ limit: BODY_LIMIT });
  const routes = Router();

  /** merchant_id (or reseller_id) and tier from the query string, checked like the JSON API's fields. */
  const routeFromQuery = (req: Request, callSid: string) => {
    const q = req.query as Params;
    const fields: Params = { call_sid: callSid };
    for (const name of ['merchant_id', 'reseller_id', 'tier']) {
      if (q[name] !== undefined) fields[name] = first(q[name]) ?? q[name];
    }
    const body = validateBody<{ merchant_id?: string; reseller_id?: string; tier?: string }>('AllocateRequest', fields);
    return { merchantId: merchantOf(body), tier: body.tier };
  };

  /** Allocates for a provider, turning every failure into a refusal with a reason. */
  async function allocateFor(provider: Provider, req: Request, rawSid: unknown): Promise<AllocateResult> {
    const sid = first(rawSid);
    if (sid === undefined || !CALL_ID.test(sid)) {
      return { ok: false, refusal: { status: 400, error: rawSid === undefined ? 'CallSid is required' : `CallSid must match ${CALL_ID.source}` } };
    }
    let route;
    try {
      route = routeFromQuery(req, sid);
    } catch (err) {
      return { ok: false, refusal: { status: 400, error: (err as Error).message } };
    }
    try {
      const allocation = await router.allocate({ callSid: sid, ...route, provider, arrivedAt: req.res?.locals.arrivedAt as number | undefined, clientGone: () => clientGone(req), afterStall: req.res?.locals.afterStall === true });
      return allocation ? { ok: true, allocation } : { ok: false, refusal: { status: 503, error: 'no pods available' } };
    } catch (err) {
      if (err instanceof CallEndedError) return { ok: false, refusal: { status: 409, error: 'call_ended', reason: err.reason } };
      if (err instanceof OverloadedError) return { ok: false, refusal: { status: 503, error: 'overloaded' } };
      if (err instanceof DeadlineExceededError) return { ok: false, refusal: { status: 503, error: 'deadline exceeded' } };
      if (err instanceof StoreUnavailableError) return { ok: false, refusal: { status: 503, error: 'routing store unavailable' } };
      logger.error('provider allocation failed', { provider, call_sid: sid, error: (err as Error).stack ?? String(err) });
      return { ok: false, refusal: { status: 500, error: 'internal error' } };
    }
  }

  const refused = (provider: Provider, rawSid: unknown, refusal: Refusal) => {
    callbacks.inc({ provider, status: '', result: refusal.status === 400 ? 'invalid_request' : refusal.status === 409 ? 'call_ended' : 'refused' });
    logger.warn('provider call refused', { provider, call_sid: forLog(first(rawSid)), status: refusal.status, reason: forLog(refusal.reason ?? refusal.error) });
  };

  /**
   * Twilio and Plivo: a stream to the pod, or the failure message spoken and a
   * hang-up, always 200 text/xml. A call that already ended just hangs up:
   * there is nobody to speak to, and nothing was taken for it.
   */
  const markupAllocate = (provider: 'twilio' | 'plivo', sidField: string, stream: (a: Allocation) => string, spoken: (message: string) => string, hangup: () => string): RequestHandler =>
    async function allocateWithMarkup(req, res) {
      const rawSid = paramsOf(req.body)[sidField];
      const result = await allocateFor(provider, req, rawSid);
      res.type('text/xml');
      if (!result.ok) {
        refused(provider, rawSid, result.refusal);
        res.send(result.refusal.status === 409 ? hangup() : spoken(options.failureMessage));
        return;
      }
      callbacks.inc({ provider, status: '', result: 'allocated' });
      res.send(stream(result.allocation));
    };

  routes.post(
    '/twilio/allocate',
    form,
    auth.twilio,
    markupAllocate('twilio', 'CallSid', (a) => twimlConnectStream(a.wsUrl, { call_sid: a.callSid, pod_name: a.pod, pool: a.pool }), twimlSayHangup, twimlHangup),
  );
  routes.post('/plivo/allocate', form, auth.plivo, markupAllocate('plivo', 'CallUUID', (a) => plivoStream(a.wsUrl), plivoSpeakHangup, plivoHangup));

  /** Exotel reads JSON and HTTP statuses: `{"url"}`, or `{"error"}` with 400, 409 (with `reason`), 503 or 500. */
  const exotelAllocate: RequestHandler = async (req, res) => {
    const body = paramsOf(req.body);
    const rawSid = body.CallSid ?? (req.query as Params).CallSid;
    const result = await allocateFor('exotel', req, rawSid);
    if (!result.ok) {
      refused('exotel', rawSid, result.refusal);
      const { status, error, reason } = result.refusal;
      res.status(status).json(reason === undefined ? { error } : { error, reason });
      return;
    }
    callbacks.inc({ provider: 'exotel', status: '', result: 'allocated' });
    res.json({ url: result.allocation.wsUrl });
  };
  routes.get('/exotel/allocate', auth.exotel, exotelAllocate);
  routes.post('/exotel/allocate', form, json, auth.exotel, exotelAllocate);

  /**
   * A status callback: a terminal status releases the call, idempotently;
   * anything else, a repeat, or an unknown call is a harmless 200. A missing
   * or malformed call id is a 400, which the provider's debugger shows.
   */
  const statusCallback = (provider: Provider, sidField: string, isOver: (p: Params) => boolean, statusOf: (p: Params) => string | undefined): RequestHandler =>
    async function onStatus(req, res) {
      const params = { ...(req.query as Params), ...paramsOf(req.body) };
      const status = statusLabel(provider, statusOf(params));
      const sid = first(params[sidField]);
      if (sid === undefined || !CALL_ID.test(sid)) {
        callbacks.inc({ provider, status, result: 'invalid_request' });
        logger.warn('provider status callback refused', { provider, call_sid: forLog(sid), reason: `${sidField} missing or malformed` });
        res.status(400).json({ error: `${sidField} is required and must match ${CALL_ID.source}` });
        return;
      }
      if (!isOver(params)) {
        callbacks.inc({ provider, status, result: 'ignored' });
        res.json({ success: true, released: false });
        return;
      }
      // Redis down here is a 503 (the provider may retry); the pool's max call duration reaps the call if no retry comes.
      const released = await router.release(sid, `${provider}:${status}`);
      callbacks.inc({ provider, status, result: released ? 'released' : 'unknown_call' });
      res.json({ success: true, released: Boolean(released) });
    };

  const twilioStatus = (p: Params) => first(p.CallStatus);
  routes.post('/twilio/status', form, auth.twilio, statusCallback('twilio', 'CallSid', (p) => isTerminalStatus('twilio', twilioStatus(p)), twilioStatus));

  // Plivo's Hangup URL says Event=Hangup whatever the CallStatus; other callbacks carry a CallStatus only.
  const plivoStatus = (p: Params) => first(p.CallStatus) ?? (first(p.Event)?.toLowerCase() === 'hangup' ? 'hangup' : undefined);
  const plivoOver = (p: Params) => first(p.Event)?.toLowerCase() === 'hangup' || isTerminalStatus('plivo', first(p.CallStatus));
  routes.post('/plivo/status', form, auth.plivo, statusCallback('plivo', 'CallUUID', plivoOver, plivoStatus));

  const exotelStatus = (p: Params) => first(p.Status) ?? first(p.CallStatus);
  routes.post('/exotel/status', form, json, auth.exotel, statusCallback('exotel', 'CallSid', (p) => isTerminalStatus('exotel', exotelStatus(p)), exotelStatus));

  return routes;
}
