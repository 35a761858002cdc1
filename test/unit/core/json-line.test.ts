import winston from 'winston';
import { flatJsonLine } from '../../../core/json-line.js';
import { jsonLines } from '../../../core/logger.js';

const MESSAGE = Symbol.for('message');
const reference = winston.format.json();
const referenceLine = (record: Record<string, unknown>) => (reference.transform({ ...record } as winston.Logform.TransformableInfo, {}) as Record<symbol, string>)[MESSAGE];

/** Values a log record of the hot path holds, and the awkward ones JSON has to escape. */
const VALUES: unknown[] = ['', 'voice-agent-1', 'quote " and backslash \\', 'line\nbreak\ttab\u0000nul', 'é ü 漢字 🎉', 'lone \ud800 surrogate', '\u2028\u2029', 0, -0, 1.5, -3e-7, 1e21, 2 ** 53, NaN, Infinity, -Infinity, true, false, null, undefined, 12345678901234567890n];

describe('a flat log record as one JSON line', () => {
  it('is byte for byte what winston json() writes, for every value a flat record can hold', () => {
    for (const value of VALUES) {
      const record = { message: 'call allocated', level: 'info', value, 'key "quoted"\n': value, aaa: 'first' };
      expect(flatJsonLine(record)).toBe(referenceLine(record));
    }
  });

  it('sorts keys as json() does, whatever order they were added in', () => {
    const record = { timestamp: 't', b: 1, a: 2, B: 3, _x: 4, '10': 5, '9': 6, é: 7 };
    expect(flatJsonLine(record)).toBe(referenceLine(record));
  });

  it('leaves records with nested values to the reference format', () => {
    expect(flatJsonLine({ route: ['a', 'b'] })).toBeUndefined();
    expect(flatJsonLine({ error: new Error('x') })).toBeUndefined();
    expect(flatJsonLine({ at: new Date(0) })).toBeUndefined();
  });
});

describe('the log format', () => {
  const format = (info: Record<string, unknown>) => (jsonLines.transform({ level: 'info', ...info } as winston.Logform.TransformableInfo, {}) as Record<symbol, string>)[MESSAGE] as string;
  const standard = winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());
  const standardLine = (info: Record<string, unknown>) => (standard.transform({ level: 'info', ...info } as winston.Logform.TransformableInfo, {}) as Record<symbol, string>)[MESSAGE] as string;

  it('writes what timestamp(), errors({ stack: true }) and json() write, flat or not', () => {
    const records: Record<string, unknown>[] = [
      { message: 'call allocated', call_sid: 'CA1', pod: 'voice-agent-1', pool: 'standard', latency_ms: 0.412, merchant_id: undefined },
      { message: 'no pods available', call_sid: 'CA2', route: ['gold', 'standard'] },
      { message: 'redis error', error: new Error('boom') },
      { message: new Error('thrown') },
      { message: 'kept', timestamp: '2020-01-01T00:00:00.000Z' },
    ];
    for (const record of records) {
      const ours = JSON.parse(format(record)) as Record<string, unknown>;
      const theirs = JSON.parse(standardLine(record)) as Record<string, unknown>;
      // The two run a moment apart: equal but for the clock.
      expect({ ...ours, timestamp: 'T' }).toEqual({ ...theirs, timestamp: 'T' });
      expect(Object.keys(ours)).toEqual(Object.keys(theirs));
      expect(ours.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(JSON.parse(format({ message: 'kept', timestamp: 'given' })).timestamp).toBe('given');
  });
});
