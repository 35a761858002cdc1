import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../core/logger.js';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to timeoutMs), then closes. */
  close(timeoutMs: number): Promise<void>;
}

/** How long a client may take to send its request; a slow client is answered 408 and let go. */
export interface RequestTimeouts {
  /** The whole request, headers and body (Node's requestTimeout). */
  requestMs: number;
  /** The headers alone (Node's headersTimeout); at most requestMs. */
  headersMs: number;
}

// Generous enough for a client on a starved machine (a connection is timed
// from its accept), short enough that a trickling client cannot hold one long.
export const DEFAULT_REQUEST_TIMEOUTS: RequestTimeouts = { requestMs: 30_000, headersMs: 20_000 };

export function listen(app: Express, host: string, port: number, logger: Logger, timeouts: RequestTimeouts = DEFAULT_REQUEST_TIMEOUTS): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    // Node's defaults let a client that sends a byte a second hold a connection
    // for 300 s, and check only every 30 s: our requests are small and quick.
    const server = createServer(
      {
        requestTimeout: timeouts.requestMs,
        headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
        connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
        maxHeaderSize: 16 * 1024,
      },
      app,
    );
    server.listen(port, host);
    server.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
    server.once('error', reject);
    server.once('listening', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      logger.info('http listening', { host, port: bound });
      resolve({
        server,
        port: bound,
        close: (timeoutMs) =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
