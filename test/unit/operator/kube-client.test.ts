import { describeRequest } from '../../../operator/kube-client.js';

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
