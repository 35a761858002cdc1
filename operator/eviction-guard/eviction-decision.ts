import { FORCE_EVICTION_ANNOTATION, MAX_DRAIN_ANNOTATION } from '../../core/pool-types.js';

/** What routing holds about the pod an eviction names, read from Redis. */
export interface EvictionRouting {
  /** Pool the pod serves; '' when it left every pool but still holds calls. */
  pool: string;
  calls: number;
  /** When the last of its calls passes its pool's maxCallDurationSeconds (and is reaped); null without calls. */
  callsExpireMs: number | null;
}

export interface EvictionFacts {
  pod: string;
  /** null: routing does not know the pod (not in any pool, no calls). */
  routing: EvictionRouting | null;
  /** spec.drain.maxDrainSeconds of the pod's pool, when set. */
  poolMaxDrainSeconds?: number;
  /** The pod's annotations, as the cache holds them. */
  annotations: Record<string, string>;
  /** When the pod's first eviction was answered; null before (this is the first attempt). */
  drainStartedMs: number | null;
  nowMs: number;
}

export type EvictionReason = 'not-routed' | 'idle' | 'forced' | 'deadline' | 'calls-active';

export interface EvictionDecision {
  allowed: boolean;
  reason: EvictionReason;
  /** Calls the pod still holds: on an allowed eviction with calls, the calls it cuts. */
  calls: number;
  /** Routing knows the pod: it is drained before the answer, so no new call lands on it. */
  drain: boolean;
  /** When the eviction is allowed whatever the calls; null when nothing bounds it. */
  deadlineMs: number | null;
  /** For the user (kubectl drain prints it) on a denial, for the Event on an allowed eviction with calls. */
  message: string;
  /** Annotations that could not be read, and were ignored. */
  problems: string[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const plural = (n: number, word: string) => `${n} active ${word}${n === 1 ? '' : 's'}`;

/** The pod's own drain limit, or a problem when the annotation is not a whole number of seconds. */
function podMaxDrainSeconds(annotations: Record<string, string>): { seconds?: number; problem?: string } {
  const raw = annotations[MAX_DRAIN_ANNOTATION];
  if (raw === undefined) return {};
  if (!/^\d{1,7}$/.test(raw.trim())) return { problem: `${MAX_DRAIN_ANNOTATION}=${JSON.stringify(raw)} is not a whole number of seconds; ignored` };
  return { seconds: Number(raw.trim()) };
}

function forced(annotations: Record<string, string>): { forced: boolean; problem?: string } {
  const raw = annotations[FORCE_EVICTION_ANNOTATION];
  if (raw === undefined || raw === 'false') return { forced: false };
  if (raw === 'true') return { forced: true };
  return { forced: false, problem: `${FORCE_EVICTION_ANNOTATION}=${JSON.stringify(raw)} is neither "true" nor "false"; ignored` };
}

/**
 * Whether an eviction of a pod may proceed. A pod with calls is held back
 * (429: kubectl drain and the cluster autoscaler retry) until its calls end,
 * its drain deadline passes (the pod's annotation, else its pool's
 * spec.drain.maxDrainSeconds, counted from the first attempt; never later
 * than the calls' own maxCallDurationSeconds), or it is forced.
 */
export function decideEviction(facts: EvictionFacts): EvictionDecision {
  const { pod, routing, annotations, nowMs } = facts;
  const limit = podMaxDrainSeconds(annotations);
  const force = forced(annotations);
  const problems = [limit.problem, force.problem].filter((p): p is string => Boolean(p));
  if (!routing) {
    return { allowed: true, reason: 'not-routed', calls: 0, drain: false, deadlineMs: null, message: `pod ${pod} is in no pool and holds no calls`, problems };
  }
  const startedMs = facts.drainStartedMs ?? nowMs;
  const maxDrainSeconds = limit.seconds ?? facts.poolMaxDrainSeconds;
  const drainDeadlineMs = maxDrainSeconds === undefined ? null : startedMs + maxDrainSeconds * 1000;
  const candidates = [drainDeadlineMs, routing.callsExpireMs].filter((d): d is number => d !== null);
  const deadlineMs = candidates.length ? Math.min(...candidates) : null;
  const base = { calls: routing.calls, drain: true, deadlineMs, problems };

  if (routing.calls === 0) return { ...base, allowed: true, reason: 'idle', message: `pod ${pod} holds no calls` };
  if (force.forced) {
    return { ...base, allowed: true, reason: 'forced', message: `pod ${pod} evicted with ${plural(routing.calls, 'call')}: ${FORCE_EVICTION_ANNOTATION}=true` };
  }
  if (deadlineMs !== null && nowMs >= deadlineMs) {
    const which = deadlineMs === drainDeadlineMs
      ? `its drain deadline ${iso(deadlineMs)} passed (maxDrainSeconds ${maxDrainSeconds}${limit.seconds !== undefined ? `, from ${MAX_DRAIN_ANNOTATION}` : ''})`
      : `its calls passed their maxCallDurationSeconds at ${iso(deadlineMs)}`;
    return { ...base, allowed: true, reason: 'deadline', message: `pod ${pod} evicted with ${plural(routing.calls, 'call')}: ${which}` };
  }
  const until = deadlineMs === null ? 'no deadline' : `deadline ${iso(deadlineMs)}`;
  const note = problems.length ? ` (${problems.join('; ')})` : '';
  return {
    ...base,
    allowed: false,
    reason: 'calls-active',
    message: `pod ${pod} has ${plural(routing.calls, 'call')}; smart-router drains it (no new calls) and allows the eviction when they end (${until})${note}`,
  };
}
