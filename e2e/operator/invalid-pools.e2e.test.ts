// The API server refuses wrong pools with a message naming the field: the
// CRD's schema bounds and CEL rules, checked with the real kubectl.
import { KubectlError } from '../support/cluster.js';
import { apply, operatorEnv, type OperatorEnv } from './support.js';

let env: OperatorEnv;
beforeAll(async () => {
  env = await operatorEnv('e2e-invalid');
}, 60_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const attempt = async (name: string, spec: string) => {
  try {
    await apply(`apiVersion: smartrouter.io/v1alpha1\nkind: VoiceAgentPool\nmetadata: { name: ${name} }\nspec: ${spec}\n`, env.namespace);
  } catch (err) {
    if (err instanceof KubectlError) return err.stderr;
    throw err;
  }
  throw new Error(`pool ${name} was accepted`);
};

test.each([
  ['exclusive-capacity', '{ tier: standard, replicas: 1, exclusive: true, capacity: 3 }', /spec\.capacity: Invalid value.*spec\.capacity must be 1 when spec\.exclusive is true/],
  ['self-fallback', '{ tier: standard, replicas: 1, fallback: [self-fallback] }', /spec\.fallback: Invalid value.*must not name the pool itself/],
  ['dup-merchants', '{ tier: standard, replicas: 1, merchants: [m1, m1] }', /spec\.merchants\[1\]: Duplicate value: "m1"/],
  ['dup-fallback', '{ tier: standard, replicas: 1, fallback: [a, a] }', /spec\.fallback\[1\]: Duplicate value: "a"/],
  ['zero-capacity', '{ tier: standard, replicas: 1, capacity: 0 }', /spec\.capacity: Invalid value: 0: spec\.capacity in body should be greater than or equal to 1/],
  ['negative-replicas', '{ tier: standard, replicas: -1 }', /spec\.replicas: Invalid value: -1: spec\.replicas in body should be greater than or equal to 0/],
  ['bad-scheduling', '{ tier: standard, replicas: 1, scheduling: Random }', /spec\.scheduling: Unsupported value: "Random": supported values: "LeastLoaded", "Packed"/],
  ['bad-tier', '{ tier: "Gold Tier", replicas: 1 }', /spec\.tier: Invalid value: "Gold Tier": spec\.tier in body should match/],
  ['in-without-values', '{ tier: standard, replicas: 1, selector: { matchExpressions: [{ key: lang, operator: In }] } }', /values must be non-empty for In and NotIn/],
  ['no-replicas', '{ tier: standard }', /spec\.replicas: Required value/],
  ['zero-duration', '{ tier: standard, replicas: 1, maxCallDurationSeconds: 0 }', /spec\.maxCallDurationSeconds: Invalid value: 0/],
  ['week-long-calls', '{ tier: standard, replicas: 1, maxCallDurationSeconds: 604801 }', /spec\.maxCallDurationSeconds: Invalid value: 604801: spec\.maxCallDurationSeconds in body should be less than or equal to 604800/],
  ['huge-capacity', '{ tier: standard, replicas: 1, capacity: 1001 }', /spec\.capacity: Invalid value: 1001: spec\.capacity in body should be less than or equal to 1000/],
  ['huge-replicas', '{ tier: standard, replicas: 100001 }', /spec\.replicas: Invalid value: 100001: spec\.replicas in body should be less than or equal to 100000/],
  ['high-priority', '{ tier: standard, replicas: 1, priority: 1001 }', /spec\.priority: Invalid value: 1001: spec\.priority in body should be less than or equal to 1000/],
  ['exists-with-values', '{ tier: standard, replicas: 1, selector: { matchExpressions: [{ key: lang, operator: Exists, values: [hi] }] } }', /values must be non-empty for In and NotIn, and absent for Exists and DoesNotExist/],
  ['bad-operator', '{ tier: standard, replicas: 1, selector: { matchExpressions: [{ key: lang, operator: Like, values: [hi] }] } }', /operator: Unsupported value: "Like"/],
  ['bad-merchant', '{ tier: standard, replicas: 1, merchants: ["bad merchant"] }', /spec\.merchants\[0\]: Invalid value: "bad merchant": spec\.merchants\[0\] in body should match/],
  ['bad-fallback', '{ tier: standard, replicas: 1, fallback: [Not_A_Pool] }', /spec\.fallback\[0\]: Invalid value: "Not_A_Pool": spec\.fallback\[0\] in body should match/],
])('%s is refused', async (name, spec, message) => {
  const stderr = await attempt(name, spec);
  expect(stderr).toMatch(/is invalid/);
  expect(stderr).toMatch(message);
});

test('a valid pool is accepted: the cases above fail for their own reason only', async () => {
  await apply('apiVersion: smartrouter.io/v1alpha1\nkind: VoiceAgentPool\nmetadata: { name: valid }\nspec: { tier: standard, replicas: 1, capacity: 1000, priority: 1000, maxCallDurationSeconds: 604800, merchants: [m1], fallback: [other], selector: { matchExpressions: [{ key: lang, operator: Exists }] } }\n', env.namespace);
});

test('an unknown field is refused by kubectl strict field validation', async () => {
  const stderr = await attempt('typo', '{ tier: standard, replica: 3, replicas: 1 }');
  expect(stderr).toMatch(/unknown field "spec\.replica"/);
});
