import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../core/logger.js';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to timeoutMs), then closes. */
  close(timeoutMs: number): Promise<void>;
}

export function listen(app: Express, host: string, port: number, logger: Logger): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
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
