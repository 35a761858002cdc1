import { buildWsUrl, checkWsUrlTemplate, wsUrlBuilder } from '../../../core/ws-url.js';

describe('buildWsUrl', () => {
  test('fills the default shape', () => {
    expect(buildWsUrl('wss://localhost/ws/pod/{pod}/{call_sid}', { pod: 'voice-agent-4', call_sid: 'TEST_E2E_001_basic' })).toBe(
      'wss://localhost/ws/pod/voice-agent-4/TEST_E2E_001_basic',
    );
  });
  test('fills every placeholder, and a missing value becomes empty', () => {
    expect(buildWsUrl('wss://h/{provider}/{pool}/{pod}?m={merchant_id}&c={call_sid}', { pod: 'p', call_sid: 'c', pool: 'gold', provider: 'twilio' })).toBe(
      'wss://h/twilio/gold/p?m=&c=c',
    );
  });
  test('values are percent-encoded, so none can add a path, a query or a fragment', () => {
    const url = buildWsUrl('wss://h/ws/{pod}/{call_sid}?m={merchant_id}', { pod: 'a/../b', call_sid: 'x?y#z', merchant_id: 'a&b=c d' });
    expect(url).toBe('wss://h/ws/a%2F..%2Fb/x%3Fy%23z?m=a%26b%3Dc%20d');
    const parsed = new URL(url);
    expect(parsed.pathname).toBe('/ws/a%2F..%2Fb/x%3Fy%23z');
    expect(parsed.hash).toBe('');
  });
});

describe('checkWsUrlTemplate', () => {
  test('accepts ws and wss templates with known placeholders', () => {
    expect(checkWsUrlTemplate('wss://voice.example.com/ws/pod/{pod}/{call_sid}')).toBeUndefined();
    expect(checkWsUrlTemplate('ws://{pod}.agents.svc:8080/ws/{call_sid}')).toBeUndefined();
  });
  test('refuses other schemes and unknown placeholders, naming them', () => {
    expect(checkWsUrlTemplate('https://h/{pod}')).toMatch(/ws:\/\/ or wss:\/\//);
    expect(checkWsUrlTemplate('wss://h/{pod}/{callsid}')).toMatch(/unknown placeholder \{callsid\}/);
  });
});

describe('wsUrlBuilder', () => {
  test('builds what buildWsUrl builds, for any template and values', () => {
    const templates = ['wss://localhost/ws/pod/{pod}/{call_sid}', 'wss://h/{provider}/{pool}/{pod}?m={merchant_id}&c={call_sid}', 'wss://{pod}.agents.example/{call_sid}', 'wss://h/static', 'wss://h/{pod}{pod}?t={token}&x={unknown}&y={'];
    const values = [{}, { pod: 'voice-agent-4', call_sid: 'CA1' }, { pod: 'a/../b', call_sid: 'x?y#z', merchant_id: 'a&b=c d', pool: 'gold', provider: 'twilio', token: 't.1' }];
    for (const template of templates) for (const v of values) expect(wsUrlBuilder(template)(v)).toBe(buildWsUrl(template, v));
  });
});
