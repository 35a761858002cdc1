import type { V1Pod } from '@kubernetes/client-node';
import { isTerminated, podFacts } from '../../../operator/pod-facts.js';

const pod = (over: { ready?: boolean; restarts?: number[]; uid?: string; annotations?: Record<string, string>; deleting?: boolean; phase?: string; containers?: string[] } = {}): V1Pod => ({
  metadata: {
    name: 'voice-agent-0',
    uid: over.uid ?? 'uid-1',
    labels: { app: 'voice-agent' },
    annotations: over.annotations,
    deletionTimestamp: over.deleting ? new Date() : undefined,
  },
  spec: { containers: (over.containers ?? (over.restarts ?? [0]).map((_, i) => `c${i}`)).map((name) => ({ name })) },
  status: {
    phase: over.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
    containerStatuses: (over.restarts ?? [0]).map((n, i) => ({ name: `c${i}`, restartCount: n, ready: true, image: 'x', imageID: 'x' })),
  },
});

describe('podFacts', () => {
  test('reads readiness, drain annotation and deletion', () => {
    expect(podFacts(pod())).toEqual({ name: 'voice-agent-0', labels: { app: 'voice-agent' }, ready: true, drainRequested: false, deleting: false, retiring: false, incarnation: 'uid-1:0' });
    expect(podFacts(pod({ annotations: { 'smartrouter.io/retiring': '2026-01-01T00:00:00Z' } })).retiring).toBe(true);
    expect(podFacts(pod({ ready: false })).ready).toBe(false);
    expect(podFacts(pod({ phase: 'Pending' })).ready).toBe(false);
    expect(podFacts(pod({ annotations: { 'smartrouter.io/drain': 'true' } })).drainRequested).toBe(true);
    expect(podFacts(pod({ annotations: { 'smartrouter.io/drain': 'false' } })).drainRequested).toBe(false);
    expect(podFacts(pod({ deleting: true })).deleting).toBe(true);
  });

  test('the incarnation changes with a restart or a new pod, not with readiness', () => {
    const base = podFacts(pod()).incarnation;
    expect(podFacts(pod({ ready: false })).incarnation).toBe(base);
    expect(podFacts(pod({ restarts: [1] })).incarnation).not.toBe(base);
    expect(podFacts(pod({ uid: 'uid-2' })).incarnation).not.toBe(base);
  });

  test('only the agent container counts: by default the first container, so a sidecar restart keeps the calls', () => {
    expect(podFacts(pod({ restarts: [0, 2] })).incarnation).toBe('uid-1:0');
    expect(podFacts(pod({ restarts: [3, 2] })).incarnation).toBe('uid-1:3');
  });

  test('the agent container can be named by annotation, or by kubectl\'s default-container annotation', () => {
    expect(podFacts(pod({ restarts: [0, 2], annotations: { 'smartrouter.io/agent-container': 'c1' } })).incarnation).toBe('uid-1:2');
    expect(podFacts(pod({ restarts: [0, 2], annotations: { 'kubectl.kubernetes.io/default-container': 'c1' } })).incarnation).toBe('uid-1:2');
    expect(podFacts(pod({ restarts: [1, 2], annotations: { 'smartrouter.io/agent-container': 'c0', 'kubectl.kubernetes.io/default-container': 'c1' } })).incarnation).toBe('uid-1:1');
  });

  test('an agent container that has not reported yet counts as not restarted', () => {
    expect(podFacts(pod({ restarts: [4], annotations: { 'smartrouter.io/agent-container': 'agent' } })).incarnation).toBe('uid-1:0');
  });

  test('finished pods count as gone', () => {
    expect(isTerminated(pod({ phase: 'Succeeded' }))).toBe(true);
    expect(isTerminated(pod({ phase: 'Failed' }))).toBe(true);
    expect(isTerminated(pod())).toBe(false);
  });
});
