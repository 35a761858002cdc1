// A small strict XML reader for checking provider markup by structure: it
// throws on anything malformed, so a broken document fails the test.
export interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);|&/g, (whole, entity: string | undefined) => {
    if (!entity) throw new Error('bare & in XML');
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)));
    const value = ENTITIES[entity];
    if (value === undefined) throw new Error(`unknown entity ${whole}`);
    return value;
  });
}

// Characters XML 1.0 does not allow anywhere in a document, escaped or not.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const REFERENCE_NOT_XML = /&#(x0*([0-8bcef]|1[0-9a-f]|d[89a-f][0-9a-f]{2}|fff[ef])|0*([0-8]|1[124-9]|2[0-9]|3[01]));/i;

/**
 * Parses one document as an XML processor would hand it to an application:
 * literal tabs and newlines in attribute values become spaces and \r\n in
 * text becomes \n (so a value only round-trips if the writer escaped them).
 */
export function parseXml(source: string): XmlNode {
  if (NOT_XML.test(source)) throw new Error('character not allowed in XML');
  if (REFERENCE_NOT_XML.test(source)) throw new Error('character reference to a character not allowed in XML');
  let pos = 0;
  const rest = () => source.slice(pos);
  const decl = /^<\?xml[^?]*\?>/.exec(rest());
  if (decl) pos += decl[0].length;

  function element(): XmlNode {
    const open = /^<([A-Za-z][\w.-]*)((?:\s+[A-Za-z_:][\w.:-]*="[^"<]*")*)\s*(\/?)>/.exec(rest());
    if (!open) throw new Error(`expected an element at ${pos}: ${rest().slice(0, 40)}`);
    pos += open[0].length;
    const node: XmlNode = { name: open[1] as string, attributes: {}, children: [], text: '' };
    for (const m of (open[2] ?? '').matchAll(/([A-Za-z_:][\w.:-]*)="([^"<]*)"/g)) {
      if (m[1] as string in node.attributes) throw new Error(`duplicate attribute ${m[1]}`);
      node.attributes[m[1] as string] = decode((m[2] as string).replace(/\r\n|[\t\n\r]/g, ' '));
    }
    if (open[3]) return node;
    for (;;) {
      const text = /^[^<]+/.exec(rest());
      if (text) {
        node.text += decode(text[0].replace(/\r\n?/g, '\n'));
        pos += text[0].length;
      }
      const close = new RegExp(`^</${node.name}\\s*>`).exec(rest());
      if (close) {
        pos += close[0].length;
        return node;
      }
      if (rest().startsWith('</')) throw new Error(`mismatched close tag at ${pos}: ${rest().slice(0, 40)}`);
      if (!rest().length) throw new Error(`unclosed <${node.name}>`);
      node.children.push(element());
    }
  }

  const root = element();
  if (rest().trim().length) throw new Error(`content after the root element: ${rest().slice(0, 40)}`);
  return root;
}
