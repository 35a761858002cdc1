import { escapeXml, plivoSpeakHangup, plivoStream, renderXml, el, twimlConnectStream, twimlSayHangup } from '../../../../api/telephony/markup.js';
import { isTerminalStatus, statusLabel } from '../../../../api/telephony/call-status.js';
import { parseXml } from '../../../support/xml.js';

const HOSTILE = `"><Hangup/><Say>pwned</Say>&amp;'<!--]]><?xml ?>`;

describe('provider markup', () => {
  test('TwiML connects the call to the stream URL, with parameters', () => {
    const xml = twimlConnectStream('wss://h/ws/pod/voice-agent-1/CA1', { call_sid: 'CA1', pod_name: 'voice-agent-1' });
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://h/ws/pod/voice-agent-1/CA1">')).toBe(true);
    const doc = parseXml(xml);
    expect(doc.name).toBe('Response');
    const stream = doc.children[0]!.children[0]!;
    expect([doc.children[0]!.name, stream.name]).toEqual(['Connect', 'Stream']);
    expect(stream.attributes.url).toBe('wss://h/ws/pod/voice-agent-1/CA1');
    expect(stream.children.map((p) => [p.name, p.attributes.name, p.attributes.value])).toEqual([
      ['Parameter', 'call_sid', 'CA1'],
      ['Parameter', 'pod_name', 'voice-agent-1'],
    ]);
  });

  test('Plivo XML streams mu-law both ways for the whole call', () => {
    const doc = parseXml(plivoStream('wss://h/ws/pod/p/c?a=1&b=2'));
    expect(doc.name).toBe('Response');
    expect(doc.children).toHaveLength(1);
    const stream = doc.children[0]!;
    expect(stream.name).toBe('Stream');
    expect(stream.text).toBe('wss://h/ws/pod/p/c?a=1&b=2');
    expect(stream.attributes).toEqual({ bidirectional: 'true', keepCallAlive: 'true', contentType: 'audio/x-mulaw;rate=8000' });
  });

  test('failure markup speaks the message, then hangs up', () => {
    expect(twimlSayHangup('Busy.')).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Busy.</Say><Hangup/></Response>');
    expect(parseXml(plivoSpeakHangup('Busy.')).children.map((c) => [c.name, c.text])).toEqual([
      ['Speak', 'Busy.'],
      ['Hangup', ''],
    ]);
  });

  test('hostile text stays text: the document keeps its shape and the value round-trips', () => {
    for (const [xml, say] of [
      [twimlSayHangup(HOSTILE), 'Say'],
      [plivoSpeakHangup(HOSTILE), 'Speak'],
    ] as const) {
      const doc = parseXml(xml);
      expect(doc.children.map((c) => c.name)).toEqual([say, 'Hangup']);
      expect(doc.children[0]!.text).toBe(HOSTILE);
    }
    const stream = parseXml(twimlConnectStream(`wss://h/${HOSTILE}`, { x: HOSTILE })).children[0]!.children[0]!;
    expect(stream.attributes.url).toBe(`wss://h/${HOSTILE}`);
    expect(stream.children).toHaveLength(1);
    expect(stream.children[0]!.attributes.value).toBe(HOSTILE);
    expect(parseXml(plivoStream(HOSTILE)).children[0]!.text).toBe(HOSTILE);
  });

  test('very long values and any Unicode round-trip', () => {
    const long = `${'x'.repeat(100_000)}<&>`;
    expect(parseXml(twimlSayHangup(long)).children[0]!.text).toBe(long);
    for (const text of ['नमस्ते 👋', 'مرحبا', '中文 «»', 'e\u0301', '\u{10FFFF}']) {
      expect(parseXml(twimlSayHangup(text)).children[0]!.text).toBe(text);
      expect(parseXml(renderXml(el('R', { a: text }))).attributes.a).toBe(text);
    }
  });

  test('tabs and line breaks survive in attributes and text; characters XML cannot carry become U+FFFD', () => {
    const spaced = 'a\tb\nc\r\nd';
    expect(parseXml(renderXml(el('R', { a: spaced }))).attributes.a).toBe(spaced);
    expect(parseXml(twimlSayHangup(spaced)).children[0]!.text).toBe(spaced);
    const broken = 'nul\u0000 bell\u0007 esc\u001b lone\uD800 other\uDC00 ffff\uFFFF';
    const doc = parseXml(twimlSayHangup(broken));
    expect(doc.children[0]!.text).toBe('nul\uFFFD bell\uFFFD esc\uFFFD lone\uFFFD other\uFFFD ffff\uFFFD');
    expect(parseXml(renderXml(el('R', { a: broken }))).attributes.a).toContain('\uFFFD');
  });

  test('escapeXml covers the five special characters', () => {
    expect(escapeXml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&apos;');
    expect(escapeXml('plain text 123')).toBe('plain text 123');
  });

  test('the test parser is strict: broken documents fail', () => {
    for (const bad of ['<R>a & b</R>', '<R><S></R>', '<R a="1" a="2"/>', '<R/><R/>', '<R>\u0001</R>', '<R>&#0;</R>', '<R><!-- c --></R>', '<R>&nbsp;</R>']) {
      expect(() => parseXml(bad)).toThrow();
    }
  });
});

describe('call statuses', () => {
  test.each([
    ['twilio', 'completed', true],
    ['twilio', 'busy', true],
    ['twilio', 'failed', true],
    ['twilio', 'no-answer', true],
    ['twilio', 'canceled', true],
    ['twilio', 'in-progress', false],
    ['twilio', 'ringing', false],
    ['twilio', 'initiated', false],
    ['plivo', 'completed', true],
    ['plivo', 'timeout', true],
    ['plivo', 'cancel', true],
    ['plivo', 'hangup', true],
    ['plivo', 'in-progress', false],
    ['exotel', 'Completed', true],
    ['exotel', 'no-answer', true],
    ['exotel', 'in-progress', false],
    ['twilio', undefined, false],
    ['twilio', '', false],
  ] as const)('%s status %s is terminal: %s', (provider, status, terminal) => {
    expect(isTerminalStatus(provider, status)).toBe(terminal);
  });

  test('metric labels come from a fixed set', () => {
    expect(statusLabel('twilio', 'Completed ')).toBe('completed');
    expect(statusLabel('twilio', 'ringing')).toBe('ringing');
    expect(statusLabel('twilio', 'x'.repeat(500))).toBe('other');
    expect(statusLabel('plivo', undefined)).toBe('');
  });
});
