/**
 * One log record as the line winston's json format writes (logform json(),
 * which is safe-stable-stringify with sorted keys), built by hand for the
 * common record: its values all strings, numbers, booleans, null, bigints or
 * undefined (left out). Returns undefined for any other record (a nested
 * object, an array, an Error, a Date): the caller then uses the reference
 * format, so every record comes out byte for byte as json() writes it.
 */
export function flatJsonLine(record: Record<string, unknown>): string | undefined {
  const keys = sortedKeys(Object.keys(record));
  let line = '{';
  for (const key of keys) {
    const value = record[key];
    let text: string;
    switch (typeof value) {
      case 'string':
        text = quote(value);
        break;
      case 'number':
        text = Number.isFinite(value) ? String(value) : 'null';
        break;
      case 'boolean':
        text = value ? 'true' : 'false';
        break;
      case 'bigint':
        text = `"${value}"`;
        break;
      case 'undefined':
        continue;
      default:
        if (value !== null) return undefined;
        text = 'null';
    }
    line += `${line.length > 1 ? ',' : ''}${quote(key)}:${text}`;
  }
  return `${line}}`;
}

/**
 * The keys sorted, as json() sorts them. Records of one log call have the
 * same keys in the same order every time, and sorting is the dearest part of
 * a line: the orders of the last few shapes are kept and found by comparing
 * the keys one by one.
 */
const shapes: { keys: string[]; sorted: string[] }[] = [];
const MAX_SHAPES = 32;

function sortedKeys(keys: string[]): string[] {
  search: for (const shape of shapes) {
    if (shape.keys.length !== keys.length) continue;
    for (let i = 0; i < keys.length; i++) if (shape.keys[i] !== keys[i]) continue search;
    return shape.sorted;
  }
  const sorted = [...keys].sort();
  if (shapes.length === MAX_SHAPES) shapes.pop();
  shapes.unshift({ keys, sorted });
  return sorted;
}

// What JSON must escape, and lone surrogates, which JSON.stringify escapes too.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}
