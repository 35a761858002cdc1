import { Agent, request } from 'node:http';

/** Latency samples in milliseconds, with the percentiles a report needs. */
export class Latencies {
  private samples: number[] = [];
  add(ms: number): void {
    this.samples.push(ms);
  }
  get count(): number {
    return this.samples.length;
  }
  percentile(p: number): number {
    if (!this.samples.length) return NaN;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
  }
}

export interface HttpClient {
  post(path: string, body: unknown): Promise<number>;
  get(path: string): Promise<number>;
  /**
   * Status and body; 'timeout' when no answer came within timeoutMs of the
   * request being sent (it is then abandoned, as a provider would).
   * `queuedMs`: how long the request waited in this client for a free
   * connection before it was sent (the client's own backlog, not the server's).
   */
  exchange(path: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string; queuedMs: number } | 'timeout'>;
  close(): void;
}

/** A keep-alive JSON client with a fixed number of connections, as a telephony gateway would hold. */
export function httpClient(baseUrl: string, connections: number): HttpClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  return {
    post(path, body) {
      const payload = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    get(path) {
      return new Promise((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path, method: 'GET', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    },
    exchange(path, body, timeoutMs) {
      const payload = JSON.stringify(body);
      const asked = now();
      let queuedMs = 0;
      /** The answer began to arrive: too late to give up on it. */
      let settled = false;
      return new Promise((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('data', () => (settled = true));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, queuedMs }));
          },
        );
        req.once('socket', () => (queuedMs = now() - asked));
        req.setTimeout(timeoutMs, () => {
          // Timers run before sockets are read: on a starved loop the answer may be waiting
          // unread. One turn of the loop lets it in, so only an answer that had not come gives up.
          setImmediate(() => {
            if (settled) return;
            req.destroy();
            resolve('timeout');
          });
        });
        req.on('error', (err) => (req.destroyed ? resolve('timeout') : reject(err)));
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

export interface ClosedLoopResult {
  pairsPerSecond: number;
  allocate: Latencies;
  errors: number;
}

/**
 * As many allocate+release pairs as `connections` callers can push through
 * in `durationMs`, each caller waiting for its answer before the next.
 */
export async function closedLoop(client: HttpClient, paths: { allocate: string; release: string }, connections: number, durationMs: number): Promise<ClosedLoopResult> {
  const allocate = new Latencies();
  // Fresh call_sids every run: an ended call's sid is refused (409) while its tombstone lives.
  const run = Math.random().toString(36).slice(2, 8);
  let pairs = 0;
  let errors = 0;
  const started = now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      for (let i = 0; now() < end; i++) {
        const sid = `bench-${run}-${worker}-${i}`;
        const t0 = now();
        const a = await client.post(paths.allocate, { call_sid: sid });
        allocate.add(now() - t0);
        const r = await client.post(paths.release, { call_sid: sid });
        if (a !== 200 || r !== 200) errors++;
        pairs++;
      }
    }),
  );
  return { pairsPerSecond: pairs / ((now() - started) / 1000), allocate, errors };
}

/**
 * Allocations started at a fixed rate whatever the answers do (open loop, so
 * a slow answer cannot hide later ones); each is released once answered.
 */
export async function openLoop(client: HttpClient, paths: { allocate: string; release: string }, perSecond: number, durationMs: number): Promise<{ allocate: Latencies; errors: number; achieved: number }> {
  const allocate = new Latencies();
  const run = Math.random().toString(36).slice(2, 8);
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const started = now();
  const total = Math.round((perSecond * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sid = `open-${run}-${i}`;
    inflight.push(
      (async () => {
        const t0 = now();
        const a = await client.post(paths.allocate, { call_sid: sid });
        allocate.add(now() - t0);
        const r = await client.post(paths.release, { call_sid: sid });
        if (a !== 200 || r !== 200) errors++;
      })(),
    );
  }
  await Promise.all(inflight);
  return { allocate, errors, achieved: total / ((now() - started) / 1000) };
}

/** GETs started at a fixed rate whatever the answers do (open loop). */
export async function openLoopGet(client: HttpClient, path: string, perSecond: number, durationMs: number): Promise<{ latency: Latencies; errors: number; achieved: number; sent: number }> {
  const latency = new Latencies();
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const started = now();
  const total = Math.round((perSecond * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / perSecond - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const t0 = now();
        const status = await client.get(path);
        latency.add(now() - t0);
        if (status !== 200) errors++;
      })(),
    );
  }
  await Promise.all(inflight);
  return { latency, errors, achieved: total / ((now() - started) / 1000), sent: total };
}
export interface OverloadResult {
  /** Allocations sent per second over the run (below the rate asked when the generator cannot keep up). */
  achieved: number;
  sent: number;
  /** Latency of every allocation answered (any status), client-observed from when it was sent. */
  answered: Latencies;
  /** How long answered allocations waited in the client for a connection before being sent. */
  queued: Latencies;
  /** Latency of the allocations answered 200. */
  allocated: Latencies;
  /** Outcome -> count: "200", "503 overloaded", "503 deadline exceeded", ..., "client gave up". */
  mix: Map<string, number>;
  /** Calls answered 200, all released again by the end. */
  known: number;
  /** The call_sids the client gave up on, with when it sent each and when it gave up (wall clock, ms): a slot left behind is one of these, or a defect. */
  gaveUp: Map<string, { sentMs: number; gaveUpMs: number }>;
  releaseFailures: number;
}

/** The error of a JSON answer, or undefined when the body is not a JSON object. */
function jsonAnswer(text: string): { success?: unknown; error?: unknown; pod_name?: unknown } | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    return body !== null && typeof body === 'object' ? (body as { error?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Open-loop allocations at a fixed rate, as callers that give up after
 * `timeoutMs` would send them (and never release what they were not told
 * about). Every call answered 200 is released once answered, through the
 * router that allocated it. Given several clients (one per router), calls
 * go to each in turn. An answer whose body is not the JSON its status
 * promises is counted as "<status> not JSON".
 */
export async function openLoopOverload(clients: HttpClient | HttpClient[], paths: { allocate: string; release: string }, perSecond: number, durationMs: number, timeoutMs: number): Promise<OverloadResult> {
  const answered = new Latencies();
  const queued = new Latencies();
  const allocated = new Latencies();
  const mix = new Map<string, number>();
  const count = (key: string) => mix.set(key, (mix.get(key) ?? 0) + 1);
  const run = Math.random().toString(36).slice(2, 8);
  let known = 0;
  const gaveUp = new Map<string, { sentMs: number; gaveUpMs: number }>();
  let releaseFailures = 0;
  const inflight: Promise<void>[] = [];
  const started = now();
  const total = Math.round((perSecond * durationMs) / 1000);
  let sent = 0;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Behind schedule: yield now and then so answers are read, and stop at the end of the run
    // rather than send a backlog in one burst (a generator that cannot keep up says so in its rate).
    else if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    if (now() > started + durationMs + 1000) break;
    sent++;
    const sid = `overload-${run}-${i}`;
    const client = Array.isArray(clients) ? (clients[i % clients.length] as HttpClient) : clients;
    inflight.push(
      (async () => {
        const t0 = now();
        const a = await client.exchange(paths.allocate, { call_sid: sid }, timeoutMs);
        if (a === 'timeout') {
          count('client gave up');
          gaveUp.set(sid, { sentMs: Date.now() - (now() - t0), gaveUpMs: Date.now() });
          return;
        }
        answered.add(now() - t0 - a.queuedMs);
        queued.add(a.queuedMs);
        const body = jsonAnswer(a.text);
        if (a.status === 200 && (body?.success !== true || typeof body.pod_name !== 'string')) {
          count('200 not JSON');
          return;
        }
        if (a.status === 200) {
          allocated.add(now() - t0 - a.queuedMs);
          count('200');
          known++;
          // Released until Redis confirms: a known call must never be left behind by the benchmark itself.
          for (let attempt = 0; ; attempt++) {
            const r = await client.exchange(paths.release, { call_sid: sid }, 10_000);
            // A 404 after an attempt whose answer was lost: that attempt released it (a second release is 404).
            if (r !== 'timeout' && (r.status === 200 || (attempt > 0 && r.status === 404))) break;
            if (attempt === 20) {
              releaseFailures++;
              break;
            }
            await new Promise((res) => setTimeout(res, 100));
          }
          return;
        }
        count(typeof body?.error === 'string' ? `${a.status} ${body.error}` : `${a.status} not JSON`);
      })(),
    );
  }
  const sendEnded = now();
  await Promise.all(inflight);
  return { achieved: sent / ((sendEnded - started) / 1000), sent, answered, queued, allocated, mix, known, gaveUp, releaseFailures };
}
