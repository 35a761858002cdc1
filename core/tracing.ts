import { ROOT_CONTEXT, SpanStatusCode, context, type Attributes, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Spans around smart-router's own decisions (allocate, release, reconcile).
 * Until cli/tracing-sdk.ts installs a tracer, `traced` calls its function
 * directly: with tracing off the hot path pays one branch, and no SDK is
 * ever loaded (only this API module, which is a few kB).
 */
let tracer: Tracer | undefined;
let flush: (() => Promise<void>) | undefined;

export function installTracer(t: Tracer, flushSpans: () => Promise<void>): void {
  tracer = t;
  flush = flushSpans;
}

export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/** Sends what is buffered; called on shutdown. */
export async function flushTracing(): Promise<void> {
  await flush?.().catch(() => undefined);
}

function run<T>(t: Tracer, name: string, attributes: Attributes, root: boolean, fn: (span: Span) => Promise<T>): Promise<T> {
  const ctx = root ? ROOT_CONTEXT : context.active();
  return t.startActiveSpan(name, { attributes, root }, ctx, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Runs `fn` in a child span of the active one; `span` is undefined when tracing is off. */
export function traced<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  return tracer ? run(tracer, name, attributes, false, fn) : fn(undefined);
}

/** Runs `fn` as the root span of a trace of its own (work no request asked for, like a reconcile). */
export function tracedRoot<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  return tracer ? run(tracer, name, attributes, true, fn) : fn(undefined);
}
