#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../core/config.js';
import { ForeignInstallationError } from '../core/installation.js';
import { createLogger } from '../core/logger.js';
import { packageRoot } from '../core/paths.js';
import { FleetFileError, parseFleetFile } from '../core/standalone-file.js';

const USAGE = `smart-router: routes phone calls to voice-agent pods.

Usage:
  smart-router operator   [--kubeconfig FILE] [--namespace NS] [--port N] [--redis-url URL] [--webhook-port N]
  smart-router standalone --config FILE [--port N] [--redis-url URL]
  smart-router validate   FILE          check a pools file as standalone mode would
  smart-router --version

Settings come from flags and the environment; see README.md (Configuration).`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (argv.includes('--version')) {
    console.log((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version);
    return 0;
  }
  if (argv[0] === 'validate') {
    const file = argv[1];
    if (!file) throw new ConfigError('validate needs a FILE');
    const fleet = parseFleetFile(readFileSync(file, 'utf8'), file);
    console.log(`${file}: ${fleet.pools.length} pools, ${fleet.pods.length} pods, valid`);
    return 0;
  }
  const config = loadConfig(argv, process.env);
  const logger = createLogger(config.logLevel, { mode: config.mode });
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: String((reason as Error)?.stack ?? reason) }));
  // Before the modes load express and ioredis, so their imports are instrumented; never loaded when off.
  if (config.tracing.exporter !== 'none') (await import('./tracing-sdk.js')).startTracing(config.tracing, logger);
  if (config.mode === 'standalone') {
    const { runStandalone } = await import('./standalone.js');
    await runStandalone(config, logger);
  } else {
    const { runOperator } = await import('./operator.js');
    await runOperator(config, logger);
  }
  return -1; // keeps running until a signal
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof FleetFileError || err instanceof ForeignInstallationError) {
      console.error(`smart-router: ${err.message}`);
      process.exit(2);
    }
    console.error(`smart-router: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
