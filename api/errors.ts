import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../core/logger.js';

/** An error with the status and JSON body the client gets. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error ?? `HTTP ${status}`));
  }
}

export const badRequest = (message: string) => new HttpError(400, { error: message });
export const notFound = (message: string) => new HttpError(404, { error: message });

/**
 * The call ended a moment ago (released, reaped, its pod gone): an allocation
 * for it takes nothing. 409, because the request conflicts with the call's
 * state, not with its shape; a client should not retry it.
 */
export class CallEndedError extends HttpError {
  override name = 'CallEndedError';
  constructor(
    readonly callSid: string,
    readonly reason: string,
    readonly endedAt: Date,
  ) {
    super(409, { success: false, error: 'call_ended', reason, call_sid: callSid, ended_at: endedAt.toISOString() });
  }
}

/** Redis did not answer (down, timed out, loading): the client may retry. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(cause: unknown) {
    super(`routing store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * The request waited past its deadline before the router could send it to
 * Redis (the router was stalled or overloaded): nothing was done, the client
 * has likely given up already; a retry is safe.
 */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
  constructor(message = 'request deadline exceeded before it was served') {
    super(message);
  }
}

/** The router sheds new allocations: it cannot keep up. Retry at once, preferably elsewhere. */
export class OverloadedError extends Error {
  override name = 'OverloadedError';
  constructor(readonly reason: string) {
    super(`overloaded (${reason}): allocation shed`);
  }
}

/** What body-parser reports, mapped to what the client should read. */
const PARSER_ERRORS: Record<string, [number, string]> = {
  'entity.parse.failed': [400, 'request body is not valid JSON'],
  'entity.too.large': [413, 'request body is larger than 16 KiB'],
  'entity.verify.failed': [400, 'request body failed verification'],
  'encoding.unsupported': [415, 'unsupported Content-Encoding'],
  'charset.unsupported': [415, 'unsupported charset'],
  'request.aborted': [400, 'request aborted'],
  'request.size.invalid': [400, 'request size did not match Content-Length'],
  'stream.encoding.set': [500, 'internal error'],
  'parameters.too.many': [413, 'too many parameters'],
};

/** The one place error responses are written. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof HttpError) {
      res.status(err.status).json(err.body);
      return;
    }
    if (err instanceof OverloadedError) {
      res.status(503).set('Retry-After', '1').json({ success: false, error: 'overloaded' });
      return;
    }
    if (err instanceof DeadlineExceededError) {
      logger.warn('request deadline exceeded', { path: req.path });
      res.status(503).set('Retry-After', '1').json({ success: false, error: 'deadline exceeded' });
      return;
    }
    if (err instanceof StoreUnavailableError) {
      logger.warn('routing store unavailable', { path: req.path, error: err.message });
      res.status(503).set('Retry-After', '1').json({ success: false, error: 'routing store unavailable' });
      return;
    }
    const type = (err as { type?: string }).type;
    const mapped = type ? PARSER_ERRORS[type] : undefined;
    if (mapped && mapped[0] < 500) {
      res.status(mapped[0]).json({ error: mapped[1] });
      return;
    }
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: (err as Error).message || 'bad request' });
      return;
    }
    logger.error('unhandled error', { path: req.path, error: (err as Error)?.stack ?? String(err) });
    res.status(500).json({ error: 'internal error' });
  };
}
