import { Counter, type Registry } from 'prom-client';

export type KubeRequestCounter = (verb: string, resource: string) => void;

/** Counts this replica's own requests to the Kubernetes API, by verb and resource. */
export function kubeRequestCounter(registry: Registry): KubeRequestCounter {
  const counter = new Counter({
    name: 'smart_router_kube_requests_total',
    help: 'Requests this replica made to the Kubernetes API (lists, patches, status, events, lease), by verb and resource.',
    labelNames: ['verb', 'resource'] as const,
    registers: [registry],
  });
  return (verb, resource) => counter.inc({ verb, resource });
}
