import type { PodPlacement } from '../../../lua/routing-store.js';
import { routingDelta } from '../../../operator/routing-delta.js';

const at = (pod: string, pool: string, extra: Partial<PodPlacement> = {}): [string, PodPlacement] => [pod, { pod, pool, ready: true, draining: false, incarnation: `${pod}-uid:0`, ...extra }];

describe('routingDelta', () => {
  test('nothing changed: nothing to write', () => {
    const state = new Map([at('a', 'p'), at('b', 'q')]);
    expect(routingDelta(state, new Map(state))).toEqual({ place: [], leave: new Map() });
  });

  test('one readiness flip among many pods writes that pod alone', () => {
    const written = new Map(Array.from({ length: 1000 }, (_, i) => at(`pod-${i}`, 'big')));
    const desired = new Map(written);
    desired.set('pod-7', at('pod-7', 'big', { ready: false })[1]);
    expect(routingDelta(desired, written)).toEqual({ place: [at('pod-7', 'big', { ready: false })[1]], leave: new Map() });
  });

  test('a drain, a restart, a move and a new pod are each placed; a pod in no pool leaves the pool it was written in', () => {
    const written = new Map([at('a', 'p'), at('b', 'p'), at('c', 'p'), at('d', 'q')]);
    const desired = new Map([at('a', 'p', { draining: true }), at('b', 'p', { incarnation: 'b-uid:1' }), at('c', 'q'), at('e', 'q')]);
    const delta = routingDelta(desired, written);
    expect(delta.place.map((p) => `${p.pod}@${p.pool}`)).toEqual(['a@p', 'b@p', 'c@q', 'e@q']);
    expect(delta.leave).toEqual(new Map([['q', ['d']]]));
  });
});
