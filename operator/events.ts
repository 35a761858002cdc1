import { CoreV1Api, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import type { KubeRequestCounter } from './kube-metrics.js';

export interface EventTarget {
  kind: 'VoiceAgentPool' | 'Pod';
  name: string;
  uid?: string;
}

/** Kubernetes Events for what the operator did, visible in kubectl describe and get events. */
export class EventRecorder {
  private readonly api: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly count: KubeRequestCounter,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { namespace: this.namespace, generateName: `${target.name}.` },
      involvedObject: {
        apiVersion: target.kind === 'Pod' ? 'v1' : 'smartrouter.io/v1alpha1',
        kind: target.kind,
        name: target.name,
        namespace: this.namespace,
        uid: target.uid,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'smart-router' },
      reportingComponent: 'smartrouter.io/operator',
      reportingInstance: this.instance,
    };
    try {
      this.count('create', 'events');
      await this.api.createNamespacedEvent({ namespace: this.namespace, body: event });
    } catch (err) {
      // Events are best effort: routing never waits on them.
      this.logger.warn('could not record event', { reason, target: target.name, error: (err as Error).message });
    }
  }
}
