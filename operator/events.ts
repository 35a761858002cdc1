import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_KIND } from '../core/pool-types.js';
import type { Logger } from '../core/logger.js';
import type { WriteFailureSink } from './operator-metrics.js';

export const REPORTING_CONTROLLER = 'smartrouter.io/operator';

export interface EventTarget {
  kind: 'VoiceAgentPool' | 'Pod';
  name: string;
  uid?: string;
}

/**
 * Kubernetes Events (core/v1, shown by kubectl describe and kubectl get
 * events) for what the operator did. Best effort: routing never waits on an
 * Event, and a failed one is logged, not retried.
 */
export class EventRecorder {
  constructor(
    private readonly api: CoreV1Api,
    private readonly namespace: string,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly failures?: WriteFailureSink,
  ) {}

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { namespace: this.namespace, generateName: `${target.name}.` },
      involvedObject: {
        apiVersion: target.kind === 'Pod' ? 'v1' : `${POOL_API_GROUP}/${POOL_API_VERSION}`,
        kind: target.kind === 'Pod' ? 'Pod' : POOL_KIND,
        name: target.name,
        namespace: this.namespace,
        uid: target.uid,
      },
      type,
      reason,
      action: reason,
      // Events carry at most 1 KiB of message in kubectl's view; keep them short.
      message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: REPORTING_CONTROLLER },
      reportingComponent: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
    };
    try {
      await this.api.createNamespacedEvent({ namespace: this.namespace, body: event });
    } catch (err) {
      this.failures?.writeFailed('event', err);
      this.logger.warn('could not record event', { reason, target: target.name, error: (err as Error).message });
    }
  }
}
