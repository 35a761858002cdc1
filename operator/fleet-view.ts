import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { planPoolAssignments, type Plan } from '../core/planner.js';
import type { PodFacts, Pool } from '../core/pool-types.js';
import { validatePoolDocument } from '../core/pool-validation.js';
import type { PodRouting, RoutingStore } from '../lua/routing-store.js';
import type { FleetInformers, VoiceAgentPoolObject } from './informers.js';
import { isTerminated, podFacts } from './pod-facts.js';

/**
 * The world as one reconcile sees it, and the plan made from it: pools and
 * pods from the informer caches, routing state (pool, draining, calls) from
 * Redis, read before anything is written so transitions are judged against
 * the world as it was.
 */
export interface FleetView {
  podObjects: V1Pod[];
  facts: Map<string, PodFacts>;
  pools: Pool[];
  poolObjects: Map<string, VoiceAgentPoolObject>;
  /** Each pod's pool label (or the one this replica just wrote); null: none. */
  labels: Map<string, string | null>;
  routing: Map<string, PodRouting>;
  plan: Plan;
}

export interface FleetViewSources {
  informers: FleetInformers;
  store: RoutingStore;
  namespace: string;
  logger: Logger;
  /** A pod's pool label as the reconciler should believe it (its own writes may be ahead of the cache). */
  labelOf(pod: V1Pod): string | null;
}

/** The pools as the API server holds them; an object that is somehow invalid is skipped, loudly. */
export function readPools(informers: FleetInformers, namespace: string, logger: Logger): { pools: Pool[]; objects: Map<string, VoiceAgentPoolObject> } {
  const pools: Pool[] = [];
  const objects = new Map<string, VoiceAgentPoolObject>();
  for (const obj of informers.pools.list(namespace)) {
    if (obj.metadata?.deletionTimestamp) continue;
    const result = validatePoolDocument({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name }, spec: obj.spec });
    if (!result.ok) {
      logger.error('skipping invalid pool', { pool: obj.metadata?.name, problems: result.problems });
      continue;
    }
    pools.push(result.pool);
    objects.set(result.pool.name, obj);
  }
  return { pools, objects };
}

/** Reads the caches and Redis (one round trip) and plans. Writes nothing. */
export async function readFleetView(src: FleetViewSources): Promise<FleetView> {
  const podObjects = src.informers.pods.list(src.namespace).filter((p) => !isTerminated(p));
  const facts = new Map(podObjects.map((p) => [p.metadata!.name!, podFacts(p)]));
  const { pools, objects } = readPools(src.informers, src.namespace, src.logger);
  const labels = new Map(podObjects.map((p) => [p.metadata!.name!, src.labelOf(p)]));
  const current = new Map([...labels].filter((e): e is [string, string] => e[1] !== null));
  const routing = await src.store.podRouting([...facts.keys()]);
  const calls = new Map([...routing].map(([pod, r]) => [pod, r.calls]));
  const plan = planPoolAssignments({ pools, pods: [...facts.values()], current, calls });
  return { podObjects, facts, pools, poolObjects: objects, labels, routing, plan };
}
