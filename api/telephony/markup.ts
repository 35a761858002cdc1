/** Escapes text for XML element content and attribute values alike. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
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

/** Plivo XML: a bidirectional audio stream to the pod, kept up for the whole call. */
export function plivoStream(wsUrl: string, extraHeaders: Record<string, string>): string {
  const headers = Object.entries(extraHeaders)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return renderXml(
    el('Response', {}, el('Stream', { bidirectional: 'true', keepCallAlive: 'true', contentType: 'audio/x-mulaw;rate=8000', extraHeaders: headers }, wsUrl)),
  );
}

export function plivoSpeakHangup(message: string): string {
  return renderXml(el('Response', {}, el('Speak', {}, message), el('Hangup')));
}
