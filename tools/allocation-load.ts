// Allocation load through a router's HTTP API, keeping the books a telephony
// client keeps: which calls it was told it holds, which releases it was told
// happened. A failover test or benchmark compares those books with what
// Redis holds afterwards.
import { performance } from 'node:perf_hooks';
import type { RoutingStore } from '../lua/routing-store.js';

export interface LoadOptions {
  routerUrl: string;
  /** Concurrent clients. */
  workers: number;
  /** Allocations a second over all workers; 0: as fast as the router answers. */
  ratePerSecond?: number;
  /** Share of successful allocations released right away (the rest stay held until settle()). */
  releaseShare?: number;
  /** Give up on a request after this long (the client's own timeout). */
  clientTimeoutMs?: number;
  callPrefix?: string;
}

export interface LoadBooks {
  /** Calls answered 200 on allocate and not (yet) released with a 200. */
  held: Set<string>;
  /** Calls whose release was answered 200. */
  released: Set<string>;
  /** Answers by status (or "gave up", "refused" when no HTTP answer came). */
  answers: Map<string, number>;
  /** Every allocate answer: when (monotonic ms), whether it was a 200, how long it took (ms). */
  timeline: { at: number; ok: boolean; ms: number }[];
}

async function post(url: string, body: unknown, timeoutMs: number): Promise<number | 'gave up' | 'refused'> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    const name = (err as Error).name;
    return name === 'TimeoutError' || name === 'AbortError' ? 'gave up' : 'refused';
  }
}

export class AllocationLoad {
  readonly books: LoadBooks = { held: new Set(), released: new Set(), answers: new Map(), timeline: [] };
  private running = false;
  private workers: Promise<void>[] = [];
  private next = 0;
  private nextSendAt = 0;
  private readonly prefix: string;

  constructor(private readonly options: LoadOptions) {
    this.prefix = options.callPrefix ?? `load-${process.pid}-${Date.now().toString(36)}`;
  }

  private count(answer: number | string): void {
    const key = String(answer);
    this.books.answers.set(key, (this.books.answers.get(key) ?? 0) + 1);
  }

  /** Waits for this worker's turn when a rate is set. */
  private async pace(): Promise<void> {
    const rate = this.options.ratePerSecond ?? 0;
    if (rate <= 0) return;
    const now = performance.now();
    this.nextSendAt = Math.max(this.nextSendAt + 1000 / rate, now);
    const wait = this.nextSendAt - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  private async worker(): Promise<void> {
    const timeout = this.options.clientTimeoutMs ?? 5000;
    while (this.running) {
      await this.pace();
      if (!this.running) break;
      const sid = `${this.prefix}-${this.next++}`;
      const sentAt = performance.now();
      const status = await post(`${this.options.routerUrl}/api/v1/allocate`, { call_sid: sid }, timeout);
      const at = performance.now();
      this.count(status);
      this.books.timeline.push({ at, ok: status === 200, ms: at - sentAt });
      if (status !== 200) continue;
      this.books.held.add(sid);
      if (Math.random() < (this.options.releaseShare ?? 0.5)) {
        const released = await post(`${this.options.routerUrl}/api/v1/release`, { call_sid: sid }, timeout);
        if (released === 200) {
          this.books.held.delete(sid);
          this.books.released.add(sid);
        }
      }
    }
  }

  start(): this {
    this.running = true;
    this.workers = Array.from({ length: this.options.workers }, () => this.worker());
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Successful allocations answered after monotonic time `since`. */
  successesAfter(since: number): number {
    return this.books.timeline.filter((e) => e.ok && e.at > since).length;
  }

  /**
   * What clients saw of an outage that began at `since`: from the first
   * failed allocation to the first successful one after it (ms); undefined
   * while none failed, or none succeeded again.
   */
  outageAfter(since: number): { firstFailure: number; recoveredAt: number; ms: number } | undefined {
    const after = this.books.timeline.filter((e) => e.at > since);
    const fail = after.find((e) => !e.ok);
    if (!fail) return undefined;
    const back = after.find((e) => e.ok && e.at > fail.at);
    return back ? { firstFailure: fail.at, recoveredAt: back.at, ms: back.at - fail.at } : undefined;
  }
}

/** How the client's books compare with Redis after every call the client holds was released. */
export interface Settlement {
  /** Allocations answered 200 that Redis no longer knew of (their release found no call): lost. */
  lostAllocations: string[];
  /** Releases answered 200 whose call Redis holds again: lost, each keeps a slot until the call reaper. */
  lostReleases: string[];
  /** Calls Redis holds that the client never held, or whose release was not lost: must be none. */
  unexplained: string[];
  /** Calls the client still holds because Redis refused releases (503) for half a minute. */
  unsettled: string[];
  /** Calls Redis holds after the settlement. */
  remaining: number;
}

/**
 * Releases every call the client still holds, through the router, then reads
 * every call Redis holds (through the pods' call sets) and accounts for each.
 */
export async function settle(load: AllocationLoad, routerUrl: string, store: RoutingStore, pods: readonly string[]): Promise<Settlement> {
  const lostAllocations: string[] = [];
  const unsettled: string[] = [];
  // A release refused while Redis fails over (503, or no answer) is asked again, as a client would, for half a minute in all.
  const giveUpAt = performance.now() + 30_000;
  for (const sid of [...load.books.held]) {
    let status = await post(`${routerUrl}/api/v1/release`, { call_sid: sid }, 10_000);
    while ((typeof status !== 'number' || status === 503) && performance.now() < giveUpAt) {
      await new Promise((r) => setTimeout(r, 250));
      status = await post(`${routerUrl}/api/v1/release`, { call_sid: sid }, 10_000);
    }
    if (status === 404) lostAllocations.push(sid);
    else if (status !== 200) {
      unsettled.push(sid);
      continue;
    }
    load.books.held.delete(sid);
    load.books.released.add(sid);
  }
  const pipeline = store.redis.pipeline();
  for (const pod of pods) pipeline.smembers(store.keys.podCalls(pod));
  const remainingCalls = ((await pipeline.exec()) ?? []).flatMap(([err, calls]) => {
    if (err) throw err;
    return calls as string[];
  });
  const lostReleases = remainingCalls.filter((sid) => load.books.released.has(sid) && !lostAllocations.includes(sid));
  const unexplained = remainingCalls.filter((sid) => !lostReleases.includes(sid) && !unsettled.includes(sid));
  return { lostAllocations, lostReleases, unexplained, unsettled, remaining: remainingCalls.length };
}
