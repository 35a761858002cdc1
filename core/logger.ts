import winston from 'winston';

export type Logger = winston.Logger;

/**
 * One JSON object per line on stdout, with a timestamp and whatever context
 * the caller binds (component, call_sid, pod, pool, latency_ms).
 */
export function createLogger(level: string, defaultMeta: Record<string, unknown> = {}): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service: 'smart-router', ...defaultMeta },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

/** A logger that writes nothing, for tests that assert on behaviour, not on logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
