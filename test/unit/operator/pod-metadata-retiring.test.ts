import { currentPodMetadata, desiredPodMetadata, podMetadataPatch } from '../../../operator/pod-metadata.js';

const current = (annotations: Record<string, string>, label: string | null = 'standard') => ({ label, annotations });

describe('the deletion cost of a pod retiring for a scale-down', () => {
  test('a retiring idle pod keeps the lowest cost while it leaves its pool, instead of losing it as an idle pod', () => {
    const retiring = current({ 'smartrouter.io/retiring': 'T', 'controller.kubernetes.io/pod-deletion-cost': '-1000' });
    // Leaving the pool: unlabelled, the cost stays.
    expect(podMetadataPatch(retiring, desiredPodMetadata(null, false, true, true))).toEqual({ labels: { 'smartrouter.io/pool': null } });
    // Idle, not retiring: no cost at all.
    expect(desiredPodMetadata('standard', false, true).annotations['controller.kubernetes.io/pod-deletion-cost']).toBeNull();
  });

  test('a retiring pod whose cost was lost gets it back; a busy pod is never marked as the first to go', () => {
    expect(podMetadataPatch(current({ 'smartrouter.io/retiring': 'T' }, null), desiredPodMetadata(null, false, true, true))).toEqual({ annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-1000' } });
    expect(desiredPodMetadata('standard', true, true, true).annotations['controller.kubernetes.io/pod-deletion-cost']).toBe('1000');
    expect(currentPodMetadata({ metadata: { labels: {}, annotations: {} } }).label).toBeNull();
  });
});
