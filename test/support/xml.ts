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

export function parseXml(source: string): XmlNode {
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
      node.attributes[m[1] as string] = decode(m[2] as string);
    }
    if (open[3]) return node;
    for (;;) {
      const text = /^[^<]+/.exec(rest());
      if (text) {
        node.text += decode(text[0]);
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
