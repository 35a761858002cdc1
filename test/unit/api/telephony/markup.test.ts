import { escapeXml, plivoSpeakHangup, plivoStream, twimlConnectStream, twimlSayHangup } from '../../../../api/telephony/markup.js';
import { isTerminalStatus } from '../../../../api/telephony/call-status.js';
import { parseXml } from '../../../support/xml.js';

const HOSTILE = `"><Hangup/><Say>pwned</Say>&amp;'<!--`;

describe('provider markup', () => {
  test('TwiML connects the call to the stream URL, with parameters', () => {
    const doc = parseXml(twimlConnectStream('wss://h/ws/pod/voice-agent-1/CA1', { call_sid: 'CA1', pod_name: 'voice-agent-1' }));
    expect(doc.name).toBe('Response');
    const stream = doc.children[0]!.children[0]!;
    expect([doc.children[0]!.name, stream.name]).toEqual(['Connect', 'Stream']);
    expect(stream.attributes.url).toBe('wss://h/ws/pod/voice-agent-1/CA1');
    expect(stream.children.map((p) => [p.name, p.attributes.name, p.attributes.value])).toEqual([
      ['Parameter', 'call_sid', 'CA1'],
      ['Parameter', 'pod_name', 'voice-agent-1'],
    ]);
  });

  test('hostile text stays text: the document keeps its shape and the value round-trips', () => {
    for (const xml of [twimlSayHangup(HOSTILE), plivoSpeakHangup(HOSTILE)]) {
      const doc = parseXml(xml);
      expect(doc.children.map((c) => c.name)).toEqual([xml.includes('<Say>') ? 'Say' : 'Speak', 'Hangup']);
      expect(doc.children[0]!.text).toBe(HOSTILE);
    }
    const stream = parseXml(twimlConnectStream(`wss://h/${HOSTILE}`, { x: HOSTILE })).children[0]!.children[0]!;
    expect(stream.attributes.url).toBe(`wss://h/${HOSTILE}`);
    expect(stream.children[0]!.attributes.value).toBe(HOSTILE);
    const long = 'x'.repeat(100_000) + '<&>';
    expect(parseXml(twimlSayHangup(long)).children[0]!.text).toBe(long);
    expect(parseXml(twimlSayHangup('नमस्ते 👋')).children[0]!.text).toBe('नमस्ते 👋');
  });

  test('Plivo XML streams both ways for the whole call', () => {
    const doc = parseXml(plivoStream('wss://h/ws/pod/p/c', { call_sid: 'c', pod_name: 'p' }));
    const stream = doc.children[0]!;
    expect(stream.name).toBe('Stream');
    expect(stream.text).toBe('wss://h/ws/pod/p/c');
    expect(stream.attributes).toMatchObject({ bidirectional: 'true', keepCallAlive: 'true', extraHeaders: 'call_sid=c,pod_name=p' });
  });

  test('escapeXml covers the five special characters', () => {
    expect(escapeXml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&apos;');
  });

  test.each([
    ['twilio', 'completed', true],
    ['twilio', 'no-answer', true],
    ['twilio', 'in-progress', false],
    ['twilio', 'ringing', false],
    ['plivo', 'timeout', true],
    ['plivo', 'hangup', true],
    ['plivo', 'in-progress', false],
    ['exotel', 'Completed', true],
    ['exotel', 'in-progress', false],
    ['twilio', undefined, false],
  ] as const)('%s status %s is terminal: %s', (provider, status, terminal) => {
    expect(isTerminalStatus(provider, status)).toBe(terminal);
  });
});
