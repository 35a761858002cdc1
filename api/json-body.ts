import type { Request, RequestHandler, Response } from 'express';
import { HttpError } from './errors.js';

/**
 * The /api/v1 JSON body reader. Unlike body-parser, which reads an
 * oversized body to its end before it answers (a client trickling 100 KB in
 * holds the connection for as long as it likes), this answers 413 the
 * moment the declared or the received length passes the limit, stops
 * reading, and closes the connection after the answer.
 *
 * A body that is not JSON is left unread (req.body stays undefined) for the
 * next middleware to refuse; no body at all is also undefined.
 */
export function jsonBody(limit: number, tooLargeMessage: string): RequestHandler {
  return (req, res, next) => {
    const declared = req.headers['content-length'];
    const hasBody = (declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || !isJson(req)) return next();
    if (declared !== undefined && Number(declared) > limit) return refuse(res, next, new HttpError(413, { error: tooLargeMessage }));
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') return refuse(res, next, new HttpError(415, { error: 'unsupported Content-Encoding' }));
    const charset = /;\s*charset=("?)([^";\s]+)\1/i.exec(req.headers['content-type'] ?? '')?.[2]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return refuse(res, next, new HttpError(415, { error: 'unsupported charset' }));

    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (err?: HttpError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData).off('end', onEnd).off('aborted', onAborted).off('error', onAborted);
      if (err) return refuse(res, next, err);
      next();
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        req.pause();
        settle(new HttpError(413, { error: tooLargeMessage }));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
      if (text.trim() === '') return settle();
      try {
        req.body = JSON.parse(text);
      } catch {
        return settle(new HttpError(400, { error: 'request body is not valid JSON' }));
      }
      settle();
    };
    const onAborted = () => settle(new HttpError(400, { error: 'request aborted' }));
    req.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onAborted);
  };
}

/** What a telephony service sends, spelled as it is sent: known to be JSON without parsing the media type. */
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** A JSON body, as express.json() decides it (type-is: application/json or any +json type). */
function isJson(req: Request): boolean {
  const type = req.headers['content-type'];
  return (type !== undefined && PLAIN_JSON.has(type)) || Boolean(req.is(['application/json', '+json']));
}

/** An answer given before the body was read: the connection is closed after it rather than read to its end. */
function refuse(res: Response, next: (err: unknown) => void, err: HttpError): void {
  res.set('Connection', 'close');
  next(err);
}
