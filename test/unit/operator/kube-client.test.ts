import { describeRequest, failureReason } from '../../../operator/kube-client.js';

describe('describeRequest', () => {
  test.each([
    ['GET', 'https://127.0.0.1:6443/api/v1/namespaces/voice/pods?limit=500', 'list', 'pods'],
    ['GET', 'https://127.0.0.1:6443/api/v1/namespaces/voice/pods/voice-agent-0', 'get', 'pods'],
    ['PATCH', 'https://127.0.0.1:6443/api/v1/namespaces/voice/pods/voice-agent-0', 'patch', 'pods'],
    ['POST', 'https://127.0.0.1:6443/api/v1/namespaces/voice/events', 'create', 'events'],
    ['GET', 'https://127.0.0.1:6443/apis/smartrouter.io/v1alpha1/namespaces/voice/voiceagentpools', 'list', 'voiceagentpools'],
    ['PATCH', 'https://127.0.0.1:6443/apis/smartrouter.io/v1alpha1/namespaces/voice/voiceagentpools/gold/status', 'patch', 'voiceagentpools/status'],
    ['PUT', 'https://127.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/voice/leases/smart-router-leader', 'update', 'leases'],
    ['GET', 'https://127.0.0.1:6443/api/v1/nodes', 'list', 'nodes'],
  ])('%s %s is %s %s', (method, url, verb, resource) => {
    expect(describeRequest(method, url)).toEqual({ verb, resource });
  });
});

describe('failureReason', () => {
  test("the API server's Status reason for its usual codes, a class for others, Unreachable without an answer", () => {
    const withCode = (code: unknown) => Object.assign(new Error('refused'), { code });
    expect([403, 404, 409, 422, 429, 500, 503, 504].map((code) => failureReason(withCode(code)))).toEqual(['Forbidden', 'NotFound', 'Conflict', 'Invalid', 'TooManyRequests', 'InternalError', 'ServiceUnavailable', 'Timeout']);
    expect([418, 502].map((code) => failureReason(withCode(code)))).toEqual(['ClientError', 'ServerError']);
    // fetch's network errors carry string codes; an abort has none.
    expect([withCode('ECONNREFUSED'), new Error('aborted'), undefined, null].map(failureReason)).toEqual(['Unreachable', 'Unreachable', 'Unreachable', 'Unreachable']);
  });
});
