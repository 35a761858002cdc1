import winston from 'winston';
import Transport from 'winston-transport';
import { flatJsonLine } from './json-line.js';

/** Where winston's formats leave the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

export type Logger = winston.Logger;

/** The format every line is written in: an ISO timestamp, errors with their stack, sorted-key JSON. */
const reference = winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());

let isoMs = 0;
let iso = '';
/** new Date().toISOString(), formatted once per millisecond however many lines share it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

/**
 * The reference format, without its cost on the records a request writes:
 * logform's json() builds a new serializer for every line, and the records
 * of the hot path are flat (strings and numbers), so those are written by
 * {@link flatJsonLine}, byte for byte what json() writes; any other record
 * goes through the reference format itself.
 */
export const jsonLines = winston.format((info) => {
  if (info instanceof Error || info.message instanceof Error) return reference.transform(info, {});
  if (!info.timestamp) info.timestamp = isoNow();
  const line = flatJsonLine(info);
  if (line === undefined) return reference.transform(info, {});
  (info as Record<symbol, unknown>)[MESSAGE] = line;
  return info;
})();

/**
 * Writes formatted lines to stdout, each line whole, in order. The lines of
 * one turn of the event loop go out in one write (a few requests' worth
 * under load, instead of a syscall per line); they are written before the
 * loop waits again, and at once on exit, so a line is never held while the
 * process idles or lost when it ends.
 */
export class StdoutLines extends Transport {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    super();
    open.add(this);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.pending.push(`${info[MESSAGE] as string}\n`);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    next();
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.out.write(text);
  }

  override close(): void {
    this.flush();
    open.delete(this);
  }
}

const open = new Set<StdoutLines>();
process.on('exit', () => open.forEach((t) => t.flush()));

/**
 * One JSON object per line on stdout, with a timestamp and whatever context
 * the caller binds (component, call_sid, pod, pool, latency_ms).
 */
export function createLogger(level: string, defaultMeta: Record<string, unknown> = {}): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service: 'smart-router', ...defaultMeta },
    format: jsonLines,
    transports: [new StdoutLines()],
  });
}

/** A logger that writes nothing, for tests that assert on behaviour, not on logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
