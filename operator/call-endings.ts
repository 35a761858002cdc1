import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import type { PodFacts } from '../core/pool-types.js';
import type { EndedCall, PodRouting, RoutingStore } from '../lua/routing-store.js';
import { statusCode } from './kube-client.js';
import { forEachLimited } from './limited-concurrency.js';
import { isTerminated, podFacts } from './pod-facts.js';

/**
 * The one place the reconciler decides that calls are over because their pod
 * is gone or restarted, and ends them. Every other step of a reconcile only
 * moves pods between pools or drains them; this one destroys state, so it
 * rests on evidence, never on the informer cache alone (which may lag the
 * API server, or miss changes while its watch is down):
 * - nothing is ended while a watch is down;
 * - a pod the cache no longer lists is gone only if a live GET of the API
 *   server says so (404, another UID under the name, or finished);
 * - a pod restarted only if a live GET shows a later incarnation than the
 *   one routing recorded: another UID, or more restarts of its agent
 *   container (see pod-facts.ts). An incarnation never moves backwards: a
 *   cache behind Redis (a new leader's) is ignored, here and in
 *   lua/includes/place-pod.lua.
 * Pool members whose incarnation moved forward have their calls ended inside
 * the place-pod scripts (sync-pool, place-pods), given the confirmed incarnation by
 * {@link confirmIncarnations}, and are reported with {@link endReason}.
 */

export type EndReason = 'pod_gone' | 'pod_restarted';

/** Live GETs of pods in flight at once while confirming incarnations and endings. */
const LIVE_READS_IN_FLIGHT = 16;

export interface CallEnding {
  call: EndedCall;
  reason: EndReason;
}

export interface PodEnding {
  pod: string;
  reason: EndReason;
}

/** A pod as the API server holds it right now; null when it does not exist. */
export type LivePod = { incarnation: string; terminated: boolean } | null;

/** What a destructive step may rest on. */
export interface EndingEvidence {
  /** False while a watch is down: the cache may miss deletions and restarts. */
  watchesUp(): boolean;
  /** The pod as the API server holds it (a GET, not the cache). */
  readPod(name: string): Promise<LivePod>;
}

/** Live reads from the API server, and the informers' watch state. */
export function apiServerEvidence(core: CoreV1Api, namespace: string, watchesUp: () => boolean): EndingEvidence {
  return {
    watchesUp,
    async readPod(name) {
      try {
        const pod = await core.readNamespacedPod({ name, namespace });
        return { incarnation: podFacts(pod).incarnation, terminated: isTerminated(pod) };
      } catch (err) {
        if (statusCode(err) === 404) return null;
        throw err;
      }
    },
  };
}

interface Incarnation {
  uid: string;
  restarts: number;
}

function parseIncarnation(value: string): Incarnation | undefined {
  const match = /^([^:]*):(\d+)$/.exec(value);
  return match ? { uid: match[1] as string, restarts: Number(match[2]) } : undefined;
}

/** Whether `candidate` is a later life than `recorded`: another pod under the name, or more restarts. Pure. */
export function isLaterIncarnation(recorded: string, candidate: string): boolean {
  const r = parseIncarnation(recorded);
  const c = parseIncarnation(candidate);
  if (!r || !c) return false;
  return r.uid !== c.uid || c.restarts > r.restarts;
}

/** What a live read says of a pod routing recorded with `recorded`: gone, restarted, or nothing to end. Pure. */
export function judgeLivePod(recorded: string, live: LivePod): EndReason | undefined {
  if (live === null || live.terminated) return 'pod_gone';
  if (!isLaterIncarnation(recorded, live.incarnation)) return undefined;
  return parseIncarnation(recorded)?.uid !== parseIncarnation(live.incarnation)?.uid ? 'pod_gone' : 'pod_restarted';
}

/** The UID part of an incarnation `<uid>:<restarts>`. */
export const uidOf = (incarnation: string) => incarnation.split(':')[0] ?? '';

/** A pod whose UID changed under the same name was replaced: its calls went with the old pod. */
export function endReason(pod: string, routing: ReadonlyMap<string, PodRouting>, facts: ReadonlyMap<string, PodFacts>): EndReason {
  return uidOf(routing.get(pod)?.incarnation ?? '') !== uidOf(facts.get(pod)?.incarnation ?? '') ? 'pod_gone' : 'pod_restarted';
}

/** The incarnation routing recorded for a pod, when the cache shows another one; else undefined. */
function disagreement(pod: string, f: PodFacts, routing: ReadonlyMap<string, PodRouting>): string | undefined {
  const recorded = routing.get(pod)?.incarnation ?? '';
  return recorded && f.incarnation && recorded !== f.incarnation ? recorded : undefined;
}

/**
 * The pods' facts with routing's incarnation wherever the cache differs from
 * it: what routing may be given before the API server has been asked. Pure.
 */
export function recordedIncarnations(facts: ReadonlyMap<string, PodFacts>, routing: ReadonlyMap<string, PodRouting>): Map<string, PodFacts> {
  const out = new Map(facts);
  for (const [pod, f] of facts) {
    const recorded = disagreement(pod, f, routing);
    if (recorded !== undefined) out.set(pod, { ...f, incarnation: recorded });
  }
  return out;
}

/**
 * The pods' facts with each incarnation routing may be given: where the cache
 * differs from what routing recorded, the API server decides. A later
 * incarnation, read live, is passed on (and ends the pod's calls); anything
 * else keeps the recorded one, so nothing ends on the cache's word.
 */
export async function confirmIncarnations(facts: ReadonlyMap<string, PodFacts>, routing: ReadonlyMap<string, PodRouting>, evidence: EndingEvidence, logger: Logger): Promise<Map<string, PodFacts>> {
  const out = new Map(facts);
  const differing = [...facts].filter(([pod, f]) => disagreement(pod, f, routing) !== undefined);
  const watchesUp = evidence.watchesUp();
  // Live reads a few at a time: under churn many pods differ at once, and one read after another made a reconcile wait for all of them.
  await forEachLimited(differing, LIVE_READS_IN_FLIGHT, async ([pod, f]) => {
    const recorded = routing.get(pod)!.incarnation;
    let incarnation = recorded;
    if (watchesUp) {
      const live = await evidence.readPod(pod);
      if (live && !live.terminated && isLaterIncarnation(recorded, live.incarnation)) incarnation = live.incarnation;
    }
    if (incarnation !== f.incarnation) logger.info('cache disagrees with routing about a pod’s incarnation: kept what the API server confirms', { pod, recorded, cached: f.incarnation, kept: incarnation });
    out.set(pod, { ...f, incarnation });
  });
  return out;
}

export interface PodEndingInput {
  /** Every pod routing knows (members, and pods that left a pool holding calls). */
  knownPods: readonly string[];
  facts: ReadonlyMap<string, PodFacts>;
  routing: ReadonlyMap<string, PodRouting>;
  /** Pods this reconcile just wrote as members of a pool. */
  members: ReadonlySet<string>;
}

/** Candidates whose calls may have to end: missing from the cache, or restarted while outside every pool. Pure. */
export function podsToEnd(input: PodEndingInput): PodEnding[] {
  const out: PodEnding[] = [];
  for (const pod of input.knownPods) if (!input.facts.has(pod)) out.push({ pod, reason: 'pod_gone' });
  for (const [pod, r] of input.routing) {
    const incarnation = input.facts.get(pod)?.incarnation ?? '';
    if (input.members.has(pod) || r.calls === 0 || !r.incarnation || !incarnation || r.incarnation === incarnation) continue;
    out.push({ pod, reason: endReason(pod, input.routing, input.facts) });
  }
  return out;
}

/** The candidates the API server confirms, each with the reason it gives; none while a watch is down. */
export async function confirmEndings(candidates: readonly PodEnding[], store: RoutingStore, evidence: EndingEvidence, logger: Logger): Promise<PodEnding[]> {
  if (!candidates.length) return [];
  if (!evidence.watchesUp()) {
    logger.warn('a watch is down: calls of pods that look gone or restarted are kept until it is back', { pods: candidates.map((c) => c.pod).slice(0, 20) });
    return [];
  }
  const recorded = await store.podRouting(candidates.map((c) => c.pod));
  const verdicts = new Map<string, EndReason | undefined>();
  await forEachLimited(candidates, LIVE_READS_IN_FLIGHT, async ({ pod }) => {
    verdicts.set(pod, judgeLivePod(recorded.get(pod)?.incarnation ?? '', await evidence.readPod(pod)));
  });
  const confirmed: PodEnding[] = [];
  for (const { pod } of candidates) {
    const reason = verdicts.get(pod);
    if (reason) confirmed.push({ pod, reason });
    else logger.info('pod looks gone or restarted in the cache but not on the API server: calls kept', { pod, recorded: recorded.get(pod)?.incarnation ?? '' });
  }
  return confirmed;
}

/** Ends the calls of the pods {@link confirmEndings} confirmed; `beforeEach` may abandon the run (lost lease). */
export async function endCallsOfPods(store: RoutingStore, endings: readonly PodEnding[], beforeEach: () => void): Promise<CallEnding[]> {
  const ended: CallEnding[] = [];
  for (const { pod, reason } of endings) {
    beforeEach();
    for (const call of await store.removePod(pod, reason)) ended.push({ call, reason });
  }
  return ended;
}
