// An allocation Redis ran whose reply never came back (the connection was
// cut after the command left, as when a master dies right after running
// it, or a network drops the reply): the client was answered 503, so once
// Redis is reachable again the router gives the slot back.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { freePort, launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { serve } from '../../support/http.js';
import { pool, routerApp } from '../../support/routing.js';

/** A TCP relay to Redis whose client side can be cut while Redis keeps what it was sent. */
async function relay(targetPort: number): Promise<{ port: number; cutClients(): void; close(): Promise<void> }> {
  const clients = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    clients.add(client);
    upstreams.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // Redis is not told the client left: it runs what it already has, and its reply goes nowhere.
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    upstream.on('error', () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cutClients: () => {
      for (const c of clients) c.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of [...clients, ...upstreams]) s.destroy();
      }),
  };
}

let server: TestRedisServer;
let redis: Redis;
beforeEach(async () => {
  server = await launchRedis({ appendonly: false });
});
afterEach(async () => {
  server.resume();
  redis?.disconnect();
  await server.destroy();
});

test('an allocation that ran but lost its reply is undone once Redis is back', async () => {
  const proxy = await relay(server.port);
  redis = createRedisClient(`redis://127.0.0.1:${proxy.port}`, 5000, silentLogger());
  await connectRedis(redis, 5000);
  const store = new RoutingStore(redis, 'lost-reply');
  await store.syncPool(pool('standard', { capacity: 1, replicas: 2 }), [
    { pod: 'a', ready: true, draining: false, incarnation: '' },
    { pod: 'b', ready: true, draining: false, incarnation: '' },
  ]);
  const http = await serve(routerApp(store, { requestTimeoutMs: 5000 }).app);
  try {
    await store.status(); // pools read, clock measured: the allocate goes out at once
    await http.post('/api/v1/allocate', { call_sid: 'warm-up' });
    await http.post('/api/v1/release', { call_sid: 'warm-up' });
    server.pause();
    const answer = http.post('/api/v1/allocate', { call_sid: 'lost' });
    await new Promise((r) => setTimeout(r, 300)); // the allocate is in Redis's socket buffer
    proxy.cutClients();
    expect((await answer).status).toBe(503);
    server.resume(); // Redis runs the allocate well before its deadline: the slot is taken, the reply lost
    const observer = createRedisClient(server.url, 2000, silentLogger());
    await connectRedis(observer, 5000);
    const seen = new RoutingStore(observer, 'lost-reply');
    try {
      // The router reconnects by itself and gives the slot back.
      const until = Date.now() + 20_000;
      while ((await seen.status()).active_calls !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(await seen.call('lost')).toBeNull();
      const status = await seen.status();
      expect(status.active_calls).toBe(0);
      expect(status.pools.standard!.free_slots).toBe(2);
      // The call is not over: the provider's retry is served.
      expect((await http.post('/api/v1/allocate', { call_sid: 'lost' })).status).toBe(200);
    } finally {
      observer.disconnect();
    }
  } finally {
    await http.close();
    await proxy.close();
  }
});
