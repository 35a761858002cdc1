import { validatePoolDocument } from '../../../core/pool-validation.js';

const doc = (spec: Record<string, unknown>, name = 'standard') => ({
  apiVersion: 'smartrouter.io/v1alpha1',
  kind: 'VoiceAgentPool',
  metadata: { name },
  spec,
});

const problems = (d: unknown) => {
  const result = validatePoolDocument(d);
  return result.ok ? [] : result.problems.map((p) => `${p.field}: ${p.message}`);
};

describe('validatePoolDocument', () => {
  test("applies the CRD's defaults", () => {
    const result = validatePoolDocument(doc({ tier: 'standard', replicas: 3 }));
    expect(result).toEqual({
      ok: true,
      pool: {
        name: 'standard',
        spec: { tier: 'standard', replicas: 3, exclusive: false, capacity: 1, priority: 0, scheduling: 'LeastLoaded', maxCallDurationSeconds: 14400 },
      },
    });
  });

  test.each([
    [{ tier: 'standard', replicas: 3, exclusive: true, capacity: 3 }, 'spec.capacity: spec.capacity must be 1 when spec.exclusive is true'],
    [{ tier: 'standard', replicas: 3, fallback: ['standard'] }, 'spec.fallback: spec.fallback must not name the pool itself'],
    [{ tier: 'standard', replicas: 3, merchants: ['m1', 'm1'] }, 'spec.merchants: duplicate value "m1"'],
    [{ tier: 'standard', replicas: 3, fallback: ['basic', 'basic'] }, 'spec.fallback: duplicate value "basic"'],
    [{ tier: 'standard', replicas: 1, capacity: 0 }, 'spec.capacity: must be >= 1'],
    [{ tier: 'standard', replicas: -1 }, 'spec.replicas: must be >= 0'],
    [{ tier: 'standard', replicas: 1, scheduling: 'Random' }, 'spec.scheduling: must be one of "LeastLoaded", "Packed"'],
    [{ tier: 'Gold Tier', replicas: 1 }, 'spec.tier: must match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"'],
    [{ replicas: 1 }, 'spec.tier: is required'],
    [{ tier: 'standard' }, 'spec.replicas: is required'],
    [{ tier: 'standard', replicas: '3' }, 'spec.replicas: must be integer'],
    [{ tier: 'standard', replicas: 1, replica: 2 }, 'spec.replica: is not a known field'],
    [{ tier: 'standard', replicas: 1, maxCallDurationSeconds: 0 }, 'spec.maxCallDurationSeconds: must be >= 1'],
    [{ tier: 'standard', replicas: 1, drain: { maxDrainSeconds: -1 } }, 'spec.drain.maxDrainSeconds: must be >= 0'],
    [{ tier: 'standard', replicas: 1, drain: { maxDrainSeconds: '60' } }, 'spec.drain.maxDrainSeconds: must be integer'],
    [{ tier: 'standard', replicas: 1, drain: { maxDrainSecs: 60 } }, 'spec.drain.maxDrainSecs: is not a known field'],
    [{ tier: 'standard', replicas: 1, merchants: ['bad merchant'] }, 'spec.merchants[0]: must match pattern "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"'],
    [
      { tier: 'standard', replicas: 1, selector: { matchExpressions: [{ key: 'lang', operator: 'In' }] } },
      'spec.selector.matchExpressions[0]: values must be non-empty for In and NotIn, and absent for Exists and DoesNotExist',
    ],
  ])('%j is refused: %s', (spec, message) => {
    expect(problems(doc(spec))).toContain(message);
  });

  const scaling = (autoscaling: Record<string, unknown>) => ({ tier: 'standard', replicas: 2, autoscaling: { workloadRef: { kind: 'Deployment', name: 'voice-agent' }, maxReplicas: 10, ...autoscaling } });

  test('autoscaling gets its defaults: minReplicas 1, a 300 s scale-down delay', () => {
    const result = validatePoolDocument(doc(scaling({ bufferSlots: 3 })));
    expect(result.ok && result.pool.spec.autoscaling).toEqual({ workloadRef: { kind: 'Deployment', name: 'voice-agent' }, bufferSlots: 3, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 300 });
    expect(validatePoolDocument(doc(scaling({ bufferPercent: 25, minReplicas: 0, scaleDownDelaySeconds: 0 }))).ok).toBe(true);
  });

  test.each([
    [scaling({}), 'spec.autoscaling: exactly one of spec.autoscaling.bufferSlots and spec.autoscaling.bufferPercent must be set'],
    [scaling({ bufferSlots: 3, bufferPercent: 10 }), 'spec.autoscaling: exactly one of spec.autoscaling.bufferSlots and spec.autoscaling.bufferPercent must be set'],
    [scaling({ bufferSlots: 3, minReplicas: 11 }), 'spec.autoscaling.minReplicas: spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas'],
    [scaling({ bufferSlots: 0 }), 'spec.autoscaling.bufferSlots: must be >= 1'],
    [scaling({ bufferPercent: 100 }), 'spec.autoscaling.bufferPercent: must be <= 99'],
    [scaling({ bufferSlots: 1, maxReplicas: 0 }), 'spec.autoscaling.maxReplicas: must be >= 1'],
    [scaling({ bufferSlots: 1, scaleDownDelaySeconds: -1 }), 'spec.autoscaling.scaleDownDelaySeconds: must be >= 0'],
    [scaling({ bufferSlots: 1, workloadRef: { kind: 'DaemonSet', name: 'x' } }), 'spec.autoscaling.workloadRef.kind: must be one of "Deployment", "StatefulSet"'],
    [scaling({ bufferSlots: 1, workloadRef: { kind: 'Deployment' } }), 'spec.autoscaling.workloadRef.name: is required'],
    [{ tier: 'standard', replicas: 1, autoscaling: { bufferSlots: 1, maxReplicas: 3 } }, 'spec.autoscaling.workloadRef: is required'],
    [scaling({ bufferSlots: 1, bufferSize: 2 }), 'spec.autoscaling.bufferSize: is not a known field'],
  ])('autoscaling %j is refused: %s', (spec, message) => {
    expect(problems(doc(spec))).toContain(message);
  });

  test('the wrong kind, apiVersion or a missing name are named', () => {
    expect(problems({ apiVersion: 'v1', kind: 'Pool', spec: { tier: 't', replicas: 1 } })).toEqual(
      expect.arrayContaining(['apiVersion: must be smartrouter.io/v1alpha1', 'kind: must be VoiceAgentPool', 'metadata.name: is required']),
    );
  });

  test('a drain deadline is kept as written; without one, none is invented', () => {
    const withDrain = validatePoolDocument(doc({ tier: 'standard', replicas: 1, drain: { maxDrainSeconds: 900 } }));
    expect(withDrain).toMatchObject({ ok: true, pool: { spec: { drain: { maxDrainSeconds: 900 } } } });
    const without = validatePoolDocument(doc({ tier: 'standard', replicas: 1 }));
    expect(without.ok && without.pool.spec.drain).toBeUndefined();
  });

  test('a document that is not a mapping is refused', () => {
    expect(problems('just text')).toEqual(['(document): must be a mapping']);
  });
});
