import { silentLogger } from '../../../core/logger.js';
import type { PodFacts } from '../../../core/pool-types.js';
import type { PodRouting } from '../../../lua/routing-store.js';
import { confirmIncarnations, isLaterIncarnation, judgeLivePod, podsToEnd, type EndingEvidence, type LivePod } from '../../../operator/call-endings.js';

const facts = (name: string, incarnation: string): PodFacts => ({ name, labels: {}, ready: true, drainRequested: false, deleting: false, incarnation });
const routed = (incarnation: string, calls = 1): PodRouting => ({ pool: 'p', draining: false, incarnation, calls });

/** The API server as a map of live pods; records what was read. */
function apiServer(live: Record<string, LivePod>, watchesUp = true): EndingEvidence & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    watchesUp: () => watchesUp,
    async readPod(name) {
      reads.push(name);
      return name in live ? (live[name] as LivePod) : null;
    },
  };
}

describe('incarnations only move forward', () => {
  test.each([
    ['uid-a:0', 'uid-a:1', true],
    ['uid-a:3', 'uid-a:2', false],
    ['uid-a:2', 'uid-a:2', false],
    ['uid-a:2', 'uid-b:0', true],
    ['', 'uid-a:1', false],
    ['uid-a:1', '', false],
  ])('%s then %s: later? %s', (recorded, candidate, later) => {
    expect(isLaterIncarnation(recorded, candidate)).toBe(later);
  });
});

describe('judging a pod by a live read', () => {
  test('gone: the API server has no such pod, another pod under the name, or the pod finished', () => {
    expect(judgeLivePod('uid-a:0', null)).toBe('pod_gone');
    expect(judgeLivePod('uid-a:0', { incarnation: 'uid-b:0', terminated: false })).toBe('pod_gone');
    expect(judgeLivePod('uid-a:0', { incarnation: 'uid-a:0', terminated: true })).toBe('pod_gone');
  });

  test('restarted: more restarts of the agent container than recorded', () => {
    expect(judgeLivePod('uid-a:0', { incarnation: 'uid-a:1', terminated: false })).toBe('pod_restarted');
  });

  test('nothing to end: the pod lives on as recorded, or with fewer restarts (routing is ahead)', () => {
    expect(judgeLivePod('uid-a:1', { incarnation: 'uid-a:1', terminated: false })).toBeUndefined();
    expect(judgeLivePod('uid-a:3', { incarnation: 'uid-a:1', terminated: false })).toBeUndefined();
  });
});

describe('confirmIncarnations: the cache alone never ends a call', () => {
  const routing = new Map([['a', routed('uid-a:2')]]);

  test('a cache behind routing (a new leader’s) keeps the recorded incarnation, though the live pod agrees with the cache', async () => {
    const evidence = apiServer({ a: { incarnation: 'uid-a:1', terminated: false } });
    const out = await confirmIncarnations(new Map([['a', facts('a', 'uid-a:1')]]), routing, evidence, silentLogger());
    expect(out.get('a')?.incarnation).toBe('uid-a:2');
  });

  test('a restart the cache shows but the API server does not (yet) is not believed', async () => {
    const evidence = apiServer({ a: { incarnation: 'uid-a:2', terminated: false } });
    const out = await confirmIncarnations(new Map([['a', facts('a', 'uid-a:3')]]), routing, evidence, silentLogger());
    expect(out.get('a')?.incarnation).toBe('uid-a:2');
  });

  test('a restart the API server confirms is passed on, as the API server states it', async () => {
    const evidence = apiServer({ a: { incarnation: 'uid-a:4', terminated: false } });
    const out = await confirmIncarnations(new Map([['a', facts('a', 'uid-a:3')]]), routing, evidence, silentLogger());
    expect(out.get('a')?.incarnation).toBe('uid-a:4');
  });

  test('while a watch is down nothing is read and nothing changes', async () => {
    const evidence = apiServer({ a: { incarnation: 'uid-a:4', terminated: false } }, false);
    const out = await confirmIncarnations(new Map([['a', facts('a', 'uid-a:3')]]), routing, evidence, silentLogger());
    expect(out.get('a')?.incarnation).toBe('uid-a:2');
    expect(evidence.reads).toEqual([]);
  });

  test('pods whose cache agrees with routing, or new to routing, cost no read', async () => {
    const evidence = apiServer({});
    const out = await confirmIncarnations(new Map([['a', facts('a', 'uid-a:2')], ['b', facts('b', 'uid-b:0')]]), routing, evidence, silentLogger());
    expect(out.get('b')?.incarnation).toBe('uid-b:0');
    expect(evidence.reads).toEqual([]);
  });

  test('many replaced pods are read from the API server side by side, not one after another, each judged on its own read', async () => {
    const pods = Array.from({ length: 40 }, (_, i) => `agent-${i}`);
    let inFlight = 0;
    let most = 0;
    const evidence: EndingEvidence = {
      watchesUp: () => true,
      async readPod(name) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        // Odd pods are confirmed replaced; even ones the API server still holds as recorded.
        return { incarnation: Number(name.split('-')[1]) % 2 ? `new-${name}:0` : `old-${name}:0`, terminated: false };
      },
    };
    const routingOf = new Map(pods.map((p) => [p, routed(`old-${p}:0`)]));
    const out = await confirmIncarnations(new Map(pods.map((p) => [p, facts(p, `new-${p}:0`)])), routingOf, evidence, silentLogger());
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
    for (const [i, p] of pods.entries()) expect(out.get(p)?.incarnation).toBe(i % 2 ? `new-${p}:0` : `old-${p}:0`);
  });
});

describe('podsToEnd lists candidates only', () => {
  test('pods missing from the cache, and restarted pods outside every pool that hold calls', () => {
    const routing = new Map([
      ['kept', routed('uid-k:0')],
      ['outside', routed('uid-o:0')],
      ['idle', routed('uid-i:0', 0)],
    ]);
    const f = new Map([
      ['kept', facts('kept', 'uid-k:0')],
      ['outside', facts('outside', 'uid-o:1')],
      ['idle', facts('idle', 'uid-i:1')],
    ]);
    expect(podsToEnd({ knownPods: ['gone', 'kept', 'outside', 'idle'], facts: f, routing, members: new Set() })).toEqual([
      { pod: 'gone', reason: 'pod_gone' },
      { pod: 'outside', reason: 'pod_restarted' },
    ]);
  });
});
