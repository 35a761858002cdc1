/**
 * One log record as the line winston's json format writes (logform json(),
 * which is safe-stable-stringify with sorted keys), built by hand for the
 * common record: its values all strings, numbers, booleans, null, bigints or
 * undefined (left out). Returns undefined for any other record (a nested
 * object, an array, an Error, a Date): the caller then uses the reference
 * format, so every record comes out byte for byte as json() writes it.
 */
export function flatJsonLine(record: Record<string, unknown>): string | undefined {
  const keys = Object.keys(record).sort();
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

// What JSON must escape, and lone surrogates, which JSON.stringify escapes too.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}
