import type { V1Pod } from '@kubernetes/client-node';
import { PodChangeFilter } from '../../../operator/pod-change-filter.js';

const pod = (rv: number, change: (p: V1Pod) => void = () => undefined): V1Pod => {
  const p: V1Pod = {
    metadata: { name: 'agent-0', uid: 'u1', resourceVersion: String(rv), labels: { app: 'agent' }, annotations: {} },
    spec: { containers: [{ name: 'agent' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastProbeTime: `t${rv}` as never }], containerStatuses: [{ name: 'agent', restartCount: 0 } as never] },
  };
  change(p);
  return p;
};

describe('which pod events a reconcile hears', () => {
  test('adds and deletions always', () => {
    const f = new PodChangeFilter();
    expect(f.classify('add', pod(1))).toBe('change');
    expect(f.classify('add', pod(1))).toBe('change'); // a relist
    expect(f.classify('delete', pod(2))).toBe('change');
  });

  test('an update that leaves everything a reconcile reads alone is not news; a readiness flip alone is told apart', () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    expect(f.classify('update', pod(2, (p) => (p.metadata!.managedFields = [{ manager: 'kwok' }])))).toBe('none');
    expect(f.classify('update', pod(3, (p) => (p.status!.conditions![0]!.status = 'False')))).toBe('readiness');
    expect(f.classify('update', pod(4, (p) => (p.status!.conditions![0]!.status = 'False')))).toBe('none');
    expect(f.classify('update', pod(5))).toBe('readiness'); // Ready again
    expect(f.classify('update', pod(6, (p) => (p.status!.phase = 'Failed')))).toBe('change');
    expect(f.classify('update', pod(7, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' })))).toBe('change');
    expect(f.classify('update', pod(8, (p) => (p.metadata!.labels = { app: 'other' })))).toBe('change');
    expect(f.classify('update', pod(9, (p) => (p.metadata!.labels = { app: 'other' }, p.status!.containerStatuses![0]!.restartCount = 1)))).toBe('change');
    // Readiness and something else at once: a change.
    expect(f.classify('update', pod(10, (p) => (p.metadata!.labels = { app: 'other' }, p.status!.containerStatuses![0]!.restartCount = 1, p.metadata!.deletionTimestamp = new Date(0), p.status!.conditions![0]!.status = 'False')))).toBe('change');
  });

  test("the echo of the operator's own patch is not news; someone else's change after it is", () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    const labelled = pod(2, (p) => (p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' }));
    f.wrote(labelled);
    expect(f.classify('update', labelled)).toBe('none');
    // A user takes the label off again: that is news.
    expect(f.classify('update', pod(3))).toBe('change');
  });

  test('the watch telling a patch before its answer arrives is no news either', () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    f.patching(pod(1), { labels: { 'smartrouter.io/pool': 'std' }, annotations: { 'controller.kubernetes.io/pod-deletion-cost': '1000' } });
    // The API server answers with its keys in its own order, not in the one a merge would append them in.
    const patched = pod(2, (p) => ((p.metadata!.labels = { 'smartrouter.io/pool': 'std', app: 'agent' }), (p.metadata!.annotations = { 'controller.kubernetes.io/pod-deletion-cost': '1000' })));
    expect(f.classify('update', patched)).toBe('none');
    f.wrote(patched);
    // Not what the patch was to make (someone else's label too): news.
    f.patching(patched, { labels: { 'smartrouter.io/pool': null } });
    expect(f.classify('update', pod(3, (p) => (p.metadata!.labels = { app: 'agent', team: 'x' })))).toBe('change');
  });

  test('a patch whose echo also flips readiness is told as a flip', () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    f.patching(pod(1), { labels: { 'smartrouter.io/pool': 'std' } });
    expect(f.classify('update', pod(2, (p) => ((p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' }), (p.status!.conditions![0]!.status = 'False'))))).toBe('readiness');
  });

  test('a patch answered after the watch event already told it changes nothing', () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    const labelled = pod(2, (p) => (p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' }));
    expect(f.classify('update', labelled)).toBe('change');
    f.wrote(labelled);
    expect(f.classify('update', pod(3, (p) => (p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' })))).toBe('none');
  });

  test('the answer to a patch of a pod deleted meanwhile does not bring it back', () => {
    const f = new PodChangeFilter();
    f.classify('add', pod(1));
    f.classify('delete', pod(2));
    f.wrote(pod(3, (p) => (p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' })));
    // The pod is created again under the same name: its add is news, and so is its first update.
    expect(f.classify('add', pod(4))).toBe('change');
    expect(f.classify('update', pod(5, (p) => (p.metadata!.labels = { app: 'agent', 'smartrouter.io/pool': 'std' })))).toBe('change');
  });
});
