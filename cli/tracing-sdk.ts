// The OpenTelemetry SDK and instrumentations, imported only when tracing is
// configured (cli/main.ts), before any module they instrument is loaded.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { trace, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { TracingConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { packageRoot } from '../core/paths.js';
import { installTracer } from '../core/tracing.js';
import { loadLuaCommands } from '../lua/script-loader.js';

/** Requests that are not worth a trace: probes and scrapes, every few seconds. */
const UNTRACED_PATHS = /^\/(health|ready|metrics)(\/|\?|$)/;

function exporterFor(config: TracingConfig): SpanExporter {
  if (config.exporter === 'console') return new ConsoleSpanExporter();
  // Endpoint, headers and timeout come from OTEL_EXPORTER_OTLP_* as the exporters read them.
  return config.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
}

/** EVALSHA names a script by its SHA1; spans name it by its file, so a trace says "allocate", not a hash. */
function scriptNamesBySha(): Map<string, string> {
  return new Map(loadLuaCommands().map((c) => [createHash('sha1').update(c.lua).digest('hex'), c.name]));
}

/**
 * Starts tracing: registers the ESM loader hook (so the express and ioredis
 * imports that follow are instrumented), the tracer provider with W3C trace
 * context propagation, and the http, express and ioredis instrumentations.
 */
export function startTracing(config: TracingConfig, logger: Logger): void {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const resource = resourceFromAttributes({ 'service.name': 'smart-router', 'service.version': version }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporterFor(config))] });
  provider.register();
  const scripts = scriptNamesBySha();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.test(req.url ?? '') }),
      // Router layers stay: the instrumentation names the HTTP span after the route from them.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new IORedisInstrumentation({
        // Commands outside a request or a reconcile (health reads, scrapes) would be traces of one span each.
        requireParentSpan: true,
        requestHook: (span: Span, { cmdName, cmdArgs }) => {
          const script = cmdName === 'evalsha' ? scripts.get(String(cmdArgs[0])) : undefined;
          if (script) span.setAttribute('smart_router.script', script);
        },
      }),
    ],
  });
  installTracer(trace.getTracer('smart-router', version), () => provider.forceFlush());
  logger.info('tracing on', { exporter: config.exporter, protocol: config.exporter === 'otlp' ? config.protocol : undefined });
}
