import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/logger.js';
import { AdmissionReviewError, admissionResponse, parseEvictionReview, reviewUid } from './admission-review.js';
import type { EvictionGuard } from './eviction-guard.js';

/** Path the webhook configuration points at. */
export const EVICTION_WEBHOOK_PATH = '/validate/pods-eviction';
/** An eviction review is a few hundred bytes; the API server never sends megabytes. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ServingCertificate {
  cert: string;
  key: string;
}

type Reply = { status: number; body: unknown };

/** Turns one AdmissionReview body into the HTTP reply: 400 for what is not a review, 503 when routing could not be read. */
export async function answerEvictionReview(guard: EvictionGuard, body: unknown, logger: Logger): Promise<Reply> {
  let request;
  try {
    request = parseEvictionReview(body);
  } catch (err) {
    if (err instanceof AdmissionReviewError) return { status: 400, body: { error: err.message } };
    throw err;
  }
  if (!request) return { status: 200, body: admissionResponse(reviewUid(body), { allowed: true }) };
  try {
    return { status: 200, body: admissionResponse(request.uid, await guard.review(request)) };
  } catch (err) {
    // The webhook's failurePolicy decides what the API server does now (Ignore: the eviction proceeds).
    logger.error('eviction review failed', { pod: request.pod, error: (err as Error).message });
    return { status: 503, body: { error: `eviction review of pod ${request.pod} failed: ${(err as Error).message}` } };
  }
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the client gets its 413 rather than a reset.
      if (size > MAX_BODY_BYTES) return resolve(null);
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The HTTPS endpoint the API server calls. Certificates are swapped live
 * (setSecureContext): a rotation never restarts the listener or drops a
 * connection, and requests in flight finish on the context they started with.
 */
export class WebhookServer {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static listen(host: string, port: number, certificate: ServingCertificate, guard: EvictionGuard, logger: Logger): Promise<WebhookServer> {
    const server = createServer({ cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2' }, (req, res) => {
      void handle(req, res).catch((err: Error) => {
        logger.error('webhook request failed', { error: err.message });
        if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      });
    });
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== EVICTION_WEBHOOK_PATH) return send(res, { status: 404, body: { error: `no webhook at ${path}` } });
      if (req.method !== 'POST') return send(res, { status: 405, body: { error: 'use POST' } });
      const text = await readBody(req);
      if (text === null) {
        res.setHeader('connection', 'close');
        return send(res, { status: 413, body: { error: `body larger than ${MAX_BODY_BYTES} bytes` } });
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return send(res, { status: 400, body: { error: 'body is not JSON' } });
      }
      send(res, await answerEvictionReview(guard, body, logger));
    };
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const bound = (server.address() as AddressInfo).port;
        logger.info('eviction webhook listening', { host, port: bound, path: EVICTION_WEBHOOK_PATH });
        resolve(new WebhookServer(server, bound));
      });
    });
  }

  reload(certificate: ServingCertificate): void {
    this.server.setSecureContext({ cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2' });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
