import { setTimeout as sleep } from 'node:timers/promises';
import type { RoutingStore } from '../lua/routing-store.js';

/** How often a waiting request looks at the pod's calls: one SCARD, so cheap even for a whole rollout. */
export const IDLE_POLL_MS = 250;

export interface IdleWaitResult {
  idle: boolean;
  /** False when routing does not know the pod (never in a pool, or idle and gone): nothing to wait for. */
  known: boolean;
  activeCalls: number;
  waitedMs: number;
}

/**
 * Drains a pod in Redis and waits until it holds no call, or `timeoutMs`
 * passes, or `signal` aborts (the client went away). Meant for a voice
 * agent's preStop hook: the pod is terminating, so it must take no new call
 * from the first request on; the operator keeps it drained, since a pod
 * being deleted always drains.
 */
export async function drainAndWaitForIdle(store: RoutingStore, pod: string, timeoutMs: number, signal: AbortSignal): Promise<IdleWaitResult> {
  const started = Date.now();
  const drained = await store.setDraining(pod, true);
  if (!drained) return { idle: true, known: false, activeCalls: 0, waitedMs: 0 };
  let calls = drained.calls;
  while (calls > 0 && Date.now() - started < timeoutMs && !signal.aborted) {
    await sleep(Math.min(IDLE_POLL_MS, Math.max(0, timeoutMs - (Date.now() - started))), undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    calls = (await store.callCounts([pod])).get(pod) ?? 0;
  }
  return { idle: calls === 0, known: true, activeCalls: calls, waitedMs: Date.now() - started };
}
