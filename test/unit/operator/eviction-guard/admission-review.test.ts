import { AdmissionReviewError, admissionResponse, parseEvictionReview, reviewUid } from '../../../../operator/eviction-guard/admission-review.js';

const review = (request: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
const eviction = (over: Record<string, unknown> = {}) =>
  review({
    uid: 'u-1',
    kind: { group: 'policy', version: 'v1', kind: 'Eviction' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    subResource: 'eviction',
    name: 'voice-agent-0',
    namespace: 'calls',
    operation: 'CREATE',
    object: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'voice-agent-0', namespace: 'calls' } },
    dryRun: false,
    ...over,
  });

describe('reading an AdmissionReview', () => {
  test('an eviction names the pod, its namespace and the uid to answer', () => {
    expect(parseEvictionReview(eviction())).toEqual({ uid: 'u-1', pod: 'voice-agent-0', namespace: 'calls', dryRun: false });
  });

  test('a dry run is seen in request.dryRun and in the Eviction deleteOptions', () => {
    expect(parseEvictionReview(eviction({ dryRun: true }))?.dryRun).toBe(true);
    expect(parseEvictionReview(eviction({ object: { kind: 'Eviction', deleteOptions: { dryRun: ['All'] } } }))?.dryRun).toBe(true);
  });

  test('anything but a pods/eviction CREATE is not for the guard', () => {
    expect(parseEvictionReview(eviction({ subResource: '' }))).toBeNull();
    expect(parseEvictionReview(eviction({ operation: 'UPDATE' }))).toBeNull();
    expect(parseEvictionReview(eviction({ resource: { resource: 'services' } }))).toBeNull();
  });

  test('what is not an AdmissionReview is refused with a clear message', () => {
    for (const body of [null, [], 'x', { kind: 'AdmissionReview' }, { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }]) {
      expect(() => parseEvictionReview(body)).toThrow(new AdmissionReviewError('body must be an admission.k8s.io/v1 AdmissionReview'));
    }
    expect(() => parseEvictionReview(review({}))).toThrow('request.uid is required');
    expect(() => parseEvictionReview(eviction({ name: '' }))).toThrow('request.name and request.namespace are required');
  });

  test('the uid is found even in a review the guard does not read', () => {
    expect(reviewUid(eviction())).toBe('u-1');
    expect(reviewUid({})).toBe('');
  });
});

describe('answering', () => {
  test('a denial carries 429 TooManyRequests, which kubectl drain retries', () => {
    expect(admissionResponse('u-1', { allowed: false, code: 429, message: 'busy' })).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: false, status: { status: 'Failure', code: 429, reason: 'TooManyRequests', message: 'busy' } },
    });
  });

  test('an allowed eviction may carry warnings, and no status', () => {
    expect(admissionResponse('u-2', { allowed: true, warnings: ['cut 2 calls'] })).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-2', allowed: true, warnings: ['cut 2 calls'] },
    });
    expect(admissionResponse('u-3', { allowed: true })).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-3', allowed: true } });
  });
});
