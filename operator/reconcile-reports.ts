import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import type { CallEnding, EndReason } from './call-endings.js';
import type { EventRecorder } from './events.js';
import { reportTransitions, type PodTransition } from './pod-transitions.js';

/** Beyond this many pods changing the same way at once, one Event on the pool tells it. */
const EVENTS_PER_POD_LIMIT = 10;

export interface ReportSinks {
  metrics: RouterMetrics;
  events: EventRecorder;
  logger: Logger;
}

/** Every ended call is counted and logged; one Event per pod names them. Events are never awaited. */
export function reportEndedCalls(sinks: ReportSinks, ended: readonly CallEnding[]): void {
  const { metrics, logger, events } = sinks;
  const byPod = new Map<string, { pool: string; reason: EndReason; sids: string[] }>();
  for (const { call, reason } of ended) {
    metrics.reaped.inc({ pool: call.pool, reason });
    logger.warn('call reaped', { call_sid: call.callSid, pod: call.pod, pool: call.pool, reason });
    const entry = byPod.get(call.pod) ?? { pool: call.pool, reason, sids: [] };
    entry.sids.push(call.callSid);
    byPod.set(call.pod, entry);
  }
  for (const [pod, { pool, reason, sids }] of byPod) {
    const listed = `${sids.slice(0, 10).join(', ')}${sids.length > 10 ? ', ...' : ''}`;
    // A gone pod cannot show an Event: it goes on the pool. A restarted pod still exists: on the pod.
    const target = reason === 'pod_gone' ? { kind: 'VoiceAgentPool' as const, name: pool } : { kind: 'Pod' as const, name: pod };
    const why = reason === 'pod_gone' ? `pod ${pod} is gone` : `the containers of pod ${pod} restarted`;
    void events.record(target, 'Warning', 'CallsReaped', `${sids.length} call(s) ended because ${why}: ${listed}`);
  }
}

/** Logs each pod transition and records its Events (grouped on the pool when many). */
export function reportPodTransitions(sinks: ReportSinks, transitions: readonly PodTransition[]): void {
  for (const t of transitions) sinks.logger.info(t.reason === 'PodAssigned' ? 'pod assigned' : t.reason === 'PodDraining' ? 'pod draining' : 'pod released', { pod: t.pod, pool: t.pool, why: t.message });
  for (const report of reportTransitions(transitions, EVENTS_PER_POD_LIMIT)) void sinks.events.record(report.target, 'Normal', report.reason, report.message);
}
