// Tab, newline and carriage return as character references: a parser would
// otherwise turn them into spaces in attribute values and \r\n into \n in text.
const XML_SPECIAL: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/**
 * Characters XML 1.0 cannot carry at all, not even escaped: C0 controls other
 * than tab, newline and carriage return, lone surrogates, U+FFFE and U+FFFF.
 */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Escapes text for XML element content and attribute values alike; a
 * character XML cannot carry becomes U+FFFD, so the document always parses.
 */
export function escapeXml(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/[&<>"'\t\n\r]/g, (c) => XML_SPECIAL[c] as string);
}

export interface XmlElement {
  name: string;
  attributes?: Record<string, string>;
  children?: (XmlElement | string)[];
}

export const el = (name: string, attributes: Record<string, string> = {}, ...children: (XmlElement | string)[]): XmlElement => ({ name, attributes, children });

/** Serializes a tree; every attribute and text node is escaped, so no input can change its shape. */
export function renderXml(root: XmlElement): string {
  const render = (node: XmlElement | string): string => {
    if (typeof node === 'string') return escapeXml(node);
    const attrs = Object.entries(node.attributes ?? {})
      .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
      .join('');
    const children = node.children ?? [];
    return children.length ? `<${node.name}${attrs}>${children.map(render).join('')}</${node.name}>` : `<${node.name}${attrs}/>`;
  };
  return `<?xml version="1.0" encoding="UTF-8"?>${render(root)}`;
}

/** TwiML that connects the call's audio to the pod's WebSocket. */
export function twimlConnectStream(wsUrl: string, parameters: Record<string, string>): string {
  const params = Object.entries(parameters).map(([name, value]) => el('Parameter', { name, value }));
  return renderXml(el('Response', {}, el('Connect', {}, el('Stream', { url: wsUrl }, ...params))));
}

/** TwiML that tells the caller why and hangs up, so Twilio never plays its own error. */
export function twimlSayHangup(message: string): string {
  return renderXml(el('Response', {}, el('Say', {}, message), el('Hangup')));
}

/**
 * Plivo XML: a bidirectional mu-law stream to the pod, kept up for the whole
 * call. No extraHeaders: Plivo allows only letters and digits in them, and
 * call ids and pod names have dashes; the stream URL already names both.
 */
export function plivoStream(wsUrl: string): string {
  return renderXml(el('Response', {}, el('Stream', { bidirectional: 'true', keepCallAlive: 'true', contentType: 'audio/x-mulaw;rate=8000' }, wsUrl)));
}

/** TwiML that only hangs up: for a call that already ended. */
export function twimlHangup(): string {
  return renderXml(el('Response', {}, el('Hangup')));
}

export function plivoHangup(): string {
  return renderXml(el('Response', {}, el('Hangup')));
}

export function plivoSpeakHangup(message: string): string {
  return renderXml(el('Response', {}, el('Speak', {}, message), el('Hangup')));
}
