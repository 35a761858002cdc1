import { isIP } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KEY_PREFIX_PATTERN } from './installation.js';
import { redisTargetFrom, redisTargetUsesTls, type RedisTarget } from './redis-target.js';
import { checkWsUrlTemplate } from './ws-url.js';

/**
 * Every setting, read once at start from flags and environment (flags win).
 * A wrong value stops the process with a message naming the variable.
 */
export interface Config {
  mode: 'operator' | 'standalone';
  host: string;
  port: number;
  /** One Redis (REDIS_URL), a Sentinel-managed one (REDIS_SENTINELS) or a Cluster (REDIS_CLUSTER_NODES). */
  redis: RedisTarget;
  /** Files for TLS (rediss:// or REDIS_TLS=true): a private CA, and a client certificate and key when Redis asks for one. */
  redisTls: { caFile?: string; certFile?: string; keyFile?: string; servername?: string };
  /** Longest a Redis command may take before the request answers 503. */
  redisCommandTimeoutMs: number;
  /**
   * Redis key prefix set explicitly (KEY_PREFIX); when unset each mode picks
   * one per installation (see core/installation.ts).
   */
  keyPrefix?: string;
  /** Who owns the prefix (INSTALLATION_ID); when unset each mode derives one. */
  installationId?: string;
  /** How long an ended call's tombstone refuses later allocations for it. */
  callTombstoneSeconds: number;
  /** When new allocations are shed with a fast 503 instead of queueing (0 turns a limit off). */
  shedding: { maxInflightAllocations: number; eventLoopLagMs: number };
  wsUrlTemplate: string;
  /** WS_TOKEN_SECRET: signs the `{token}` of ws_url; required when the template has {token}. */
  wsTokenSecret?: string;
  /** How long a stream token is valid: the agent must see the stream connect within it. */
  wsTokenTtlSeconds: number;
  auth: {
    /** API_TOKEN: one token holding every scope (installations from before scopes). */
    apiToken?: string;
    /** AUTH_TOKENS_DIR: files `routing` and `admin`, one token a line, re-read every reloadMs. */
    tokensDir?: string;
    reloadMs: number;
  };
  defaultTier: string;
  logLevel: string;
  /**
   * Which proxies' X-Forwarded-* headers are believed, as Express's `trust
   * proxy` takes it: a hop count, or addresses, CIDRs and the names
   * loopback, linklocal, uniquelocal.
   */
  trustProxy: number | string[];
  http: {
    /** How long a client may take to send a whole request, and its headers. */
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    /** How old a status or pod answer may be: one Redis read per interval per replica. 0 reads every time. */
    readCacheMs: number;
    /** Per-client token bucket on admin routes; 0 per second turns it off. */
    adminRateLimit: { perSecond: number; burst: number };
  };
  /** How often expired (zombie) calls are reaped. */
  reapIntervalMs: number;
  /** How often the routing state is checked for a loss (a flush, a restart without AOF). */
  stateCheckIntervalMs: number;
  /** After a loss, how long pods that held calls before it take no new ones (their agents may still be streaming). */
  lostStateGraceSeconds: number;
  /** How long SIGTERM waits for in-flight requests. */
  shutdownTimeoutMs: number;
  standalone: { configFile?: string };
  operator: {
    kubeconfig?: string;
    namespace?: string;
    leaseName: string;
    identity: string;
    leaseDurationSeconds: number;
    renewDeadlineSeconds: number;
    retryPeriodSeconds: number;
    /**
     * The leader reconciles at least this often without events: notices a
     * Redis that lost or changed its routing state, and call counts due in
     * the pools' status.
     */
    resyncSeconds: number;
    /** Routing state in Redis is rewritten in full at least this often, changed or not. */
    fullResyncSeconds: number;
    /** A pool's status gets a change of activeCalls/freeSlots alone at most this often. */
    statusCountsIntervalSeconds: number;
    /**
     * Status writes carrying only call counts, all pools together, per minute:
     * bounds the etcd writes calls cost, whatever the call rate and the pool count.
     */
    statusCountWritesPerMinute: number;
    /** The built-in autoscaler compares busy slots with each pool's buffer this often. */
    autoscaleIntervalMs: number;
    /** The rise of busy slots is measured over this window to keep free the calls that arrive while pods start; 0: the buffer alone. */
    autoscaleRateWindowSeconds: number;
  };
  webhook: WebhookConfig;
  tracing: TracingConfig;
  telephony: {
    publicUrl?: string;
    verifySignatures: boolean;
    twilioAuthToken?: string;
    plivoAuthToken?: string;
    exotelApiKey?: string;
    exotelApiToken?: string;
    failureMessage: string;
    /** How long a Plivo nonce is remembered, so the same signed request is refused when it comes again. */
    plivoNonceTtlSeconds: number;
  };
}

/**
 * OpenTelemetry tracing, from the standard OTEL_* variables. Off unless
 * OTEL_TRACES_EXPORTER names an exporter or an OTLP endpoint is set; the SDK
 * itself reads the rest (endpoint, headers, timeout, sampler, batching,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
 */
export interface TracingConfig {
  exporter: 'otlp' | 'console' | 'none';
  /** OTLP over HTTP: protobuf (the OTLP default) or JSON. gRPC is not shipped. */
  protocol: 'http/protobuf' | 'http/json';
}

function tracingConfig(env: Source): TracingConfig {
  const protocolVar = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = oneOf(protocolVar, env[protocolVar], ['http/protobuf', 'http/json'] as const, 'http/protobuf');
  if (bool('OTEL_SDK_DISABLED', env.OTEL_SDK_DISABLED, false)) return { exporter: 'none', protocol };
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = oneOf('OTEL_TRACES_EXPORTER', env.OTEL_TRACES_EXPORTER, ['otlp', 'console', 'none'] as const, endpoint ? 'otlp' : 'none');
  return { exporter, protocol };
}

/** RFC 6750's b64token: what may follow `Bearer ` in an Authorization header, so what a token may be. */
export const BEARER_TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The eviction guard: an admission webhook on pods/eviction, served over TLS by every replica. */
export interface WebhookConfig {
  /** TLS port of the webhook; unset: no eviction guard. */
  port?: number;
  /**
   * Who puts the webhook configuration in place: `url` registers it pointing at
   * https://<urlHost>:<port> (outside a cluster); `ca-bundle` only keeps the
   * caBundle of the chart's configuration current; `none` leaves it all to
   * others (cert-manager's CA injector).
   */
  registration: 'url' | 'ca-bundle' | 'none';
  urlHost: string;
  /** ValidatingWebhookConfiguration name; unset: smart-router-<namespace>. */
  configurationName?: string;
  timeoutSeconds: number;
  /** `self`: smart-router issues and rotates its certificates in a Secret; `files`: read from certDir (cert-manager). */
  certificates: 'self' | 'files';
  certDir?: string;
  secretName: string;
  /** Service that fronts the webhook in a cluster: its DNS names go into the serving certificate. */
  serviceName?: string;
  caLifetimeSeconds: number;
  certLifetimeSeconds: number;
  caOverlapSeconds: number;
  certCheckSeconds: number;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function webhookConfig(flags: Source, env: Source): WebhookConfig {
  const portRaw = flags['webhook-port'] ?? env.WEBHOOK_PORT;
  const port = portRaw === undefined || portRaw === '' ? undefined : int(flags['webhook-port'] !== undefined ? '--webhook-port' : 'WEBHOOK_PORT', portRaw, 0, 0, 65535);
  const certificates = oneOf('WEBHOOK_CERTIFICATES', env.WEBHOOK_CERTIFICATES, ['self', 'files'] as const, 'self');
  const certDir = env.WEBHOOK_CERT_DIR || undefined;
  if (certificates === 'files' && !certDir) throw new ConfigError('WEBHOOK_CERTIFICATES=files needs WEBHOOK_CERT_DIR (a directory with tls.crt and tls.key)');
  const caLifetimeSeconds = int('WEBHOOK_CA_LIFETIME_SECONDS', env.WEBHOOK_CA_LIFETIME_SECONDS, 3 * 365 * 86400, 30, 20 * 365 * 86400);
  const certLifetimeSeconds = int('WEBHOOK_CERT_LIFETIME_SECONDS', env.WEBHOOK_CERT_LIFETIME_SECONDS, 90 * 86400, 10, 20 * 365 * 86400);
  const caOverlapSeconds = int('WEBHOOK_CA_OVERLAP_SECONDS', env.WEBHOOK_CA_OVERLAP_SECONDS, 300, 1, 86400);
  const certCheckSeconds = int('WEBHOOK_CERT_CHECK_SECONDS', env.WEBHOOK_CERT_CHECK_SECONDS, 60, 1, 86400);
  // A serving certificate never outlives its CA; at most a third of the CA's life, it is never cut short before the CA rotates.
  if (certLifetimeSeconds * 3 > caLifetimeSeconds) throw new ConfigError('WEBHOOK_CERT_LIFETIME_SECONDS must be at most a third of WEBHOOK_CA_LIFETIME_SECONDS');
  // The next CA must be trusted for the overlap (plus a check) before the old one's last third runs out.
  if (caOverlapSeconds + certCheckSeconds * 2 >= caLifetimeSeconds / 3) throw new ConfigError('WEBHOOK_CA_OVERLAP_SECONDS plus two WEBHOOK_CERT_CHECK_SECONDS must be less than a third of WEBHOOK_CA_LIFETIME_SECONDS');
  if (certCheckSeconds * 2 >= certLifetimeSeconds / 3) throw new ConfigError('WEBHOOK_CERT_CHECK_SECONDS must be less than a sixth of WEBHOOK_CERT_LIFETIME_SECONDS');
  return {
    port,
    registration: oneOf('WEBHOOK_REGISTRATION', env.WEBHOOK_REGISTRATION, ['url', 'ca-bundle', 'none'] as const, 'url'),
    urlHost: env.WEBHOOK_URL_HOST || '127.0.0.1',
    configurationName: env.WEBHOOK_CONFIGURATION_NAME || undefined,
    timeoutSeconds: int('WEBHOOK_TIMEOUT_SECONDS', env.WEBHOOK_TIMEOUT_SECONDS, 5, 1, 30),
    certificates,
    certDir,
    secretName: env.WEBHOOK_SECRET_NAME || 'smart-router-webhook-tls',
    serviceName: env.WEBHOOK_SERVICE_NAME || undefined,
    caLifetimeSeconds,
    certLifetimeSeconds,
    caOverlapSeconds,
    certCheckSeconds,
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Source = Record<string, string | undefined>;

/** Every command-line flag; each has an environment variable too, and the flag wins. */
const FLAG_OPTIONS = {
  config: { type: 'string' },
  port: { type: 'string' },
  'redis-url': { type: 'string' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  'key-prefix': { type: 'string' },
  'log-level': { type: 'string' },
  'webhook-port': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type Flags = Partial<Record<keyof typeof FLAG_OPTIONS, string>>;

/**
 * The mode and the flags (`--name value` or `--name=value`), parsed strictly
 * by node:util parseArgs: an unknown flag, a flag without a value or a second
 * mode stops the process instead of being ignored.
 */
export function parseCommandLine(argv: readonly string[]): { mode?: string; flags: Flags } {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw commandLineError(argv, err as Error);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') throw new ConfigError(`flag --${name} needs a value`);
  }
  const [mode, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new ConfigError(`unexpected argument ${JSON.stringify(extra[0])}: give one mode, operator or standalone`);
  return { mode, flags: parsed.values };
}

/**
 * Node's message speaks of options and of `--` escapes; re-reading the same
 * command line leniently finds the flag at fault, so the message can name it
 * and say what to fix.
 */
function commandLineError(argv: readonly string[], err: Error): ConfigError {
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!Object.hasOwn(FLAG_OPTIONS, token.name)) return new ConfigError(`unknown flag ${token.rawName}`);
    if (token.value === undefined) return new ConfigError(`flag ${token.rawName} needs a value`);
    if (token.inlineValue === false && token.value.startsWith('-')) {
      return new ConfigError(`flag ${token.rawName} needs a value, got the flag-like ${JSON.stringify(token.value)}; write ${token.rawName}=${token.value} if that is the value`);
    }
  }
  return new ConfigError(`cannot read the command line: ${err.message}`);
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function keyPrefixFrom(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!KEY_PREFIX_PATTERN.test(raw)) throw new ConfigError(`${name} must match ${KEY_PREFIX_PATTERN.source}, got ${JSON.stringify(raw)}`);
  return raw;
}

function installationIdFrom(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[\x21-\x7e]{1,253}$/.test(raw)) throw new ConfigError(`INSTALLATION_ID must be 1 to 253 printable characters without spaces, got ${JSON.stringify(raw)}`);
  return raw;
}

function httpSettings(env: Source): Config['http'] {
  const requestTimeoutMs = int('HTTP_REQUEST_TIMEOUT_SECONDS', env.HTTP_REQUEST_TIMEOUT_SECONDS, 30, 1, 600) * 1000;
  const headersTimeoutMs = int('HTTP_HEADERS_TIMEOUT_SECONDS', env.HTTP_HEADERS_TIMEOUT_SECONDS, 20, 1, 600) * 1000;
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('HTTP_HEADERS_TIMEOUT_SECONDS must not exceed HTTP_REQUEST_TIMEOUT_SECONDS');
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    readCacheMs: int('STATUS_CACHE_MS', env.STATUS_CACHE_MS, 1000, 0, 60_000),
    adminRateLimit: {
      perSecond: int('ADMIN_RATE_LIMIT_PER_SECOND', env.ADMIN_RATE_LIMIT_PER_SECOND, 10, 0, 100_000),
      burst: int('ADMIN_RATE_LIMIT_BURST', env.ADMIN_RATE_LIMIT_BURST, 50, 1, 100_000),
    },
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY: a hop count, or a comma-separated list of addresses, CIDRs and names; never "everyone". */
export function parseTrustProxy(raw: string): number | string[] {
  const value = raw.trim();
  if (/^\d+$/.test(value)) return int('TRUST_PROXY', value, 0, 0, 10);
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (PROXY_NAMES.has(entry) || (family !== 0 && bitsOk && rest.length === 0)) continue;
    throw new ConfigError(`TRUST_PROXY must be a hop count or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal; ${JSON.stringify(entry)} is none of these`);
  }
  return entries;
}

/** PUBLIC_URL: the base URL providers call and sign, http(s) with a host, no query or fragment. */
function publicUrlOf(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute http(s) URL such as https://router.example.com, got ${JSON.stringify(raw)}`);
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`PUBLIC_URL must be an http(s) base URL without credentials, query or fragment, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

export function loadConfig(argv: readonly string[], env: Source): Config {
  const { mode = 'operator', flags } = parseCommandLine(argv);
  if (mode !== 'operator' && mode !== 'standalone') {
    throw new ConfigError(`unknown mode ${JSON.stringify(mode)}: use "operator" or "standalone"`);
  }
  const wsUrlTemplate = env.WS_URL_TEMPLATE || 'wss://localhost/ws/pod/{pod}/{call_sid}';
  const templateProblem = checkWsUrlTemplate(wsUrlTemplate);
  if (templateProblem) throw new ConfigError(`WS_URL_TEMPLATE ${templateProblem}`);
  const wsTokenSecret = env.WS_TOKEN_SECRET || undefined;
  if (wsUrlTemplate.includes('{token}') && !wsTokenSecret) throw new ConfigError('WS_URL_TEMPLATE has {token}: set WS_TOKEN_SECRET, the secret the voice agents verify it with');
  if (wsTokenSecret && !wsUrlTemplate.includes('{token}')) throw new ConfigError('WS_TOKEN_SECRET is set but WS_URL_TEMPLATE has no {token}: the agents would get no token to verify');
  if (wsTokenSecret && wsTokenSecret.length < 32) throw new ConfigError('WS_TOKEN_SECRET must be at least 32 characters (for example: openssl rand -hex 32)');
  const urlFlag = flags['redis-url'] !== undefined;
  const redis = redisTargetFrom(urlFlag ? flags['redis-url'] : env.REDIS_URL, urlFlag ? '--redis-url' : 'REDIS_URL', env);
  const redisTls = {
    caFile: env.REDIS_TLS_CA_FILE || undefined,
    certFile: env.REDIS_TLS_CERT_FILE || undefined,
    keyFile: env.REDIS_TLS_KEY_FILE || undefined,
    servername: env.REDIS_TLS_SERVERNAME || undefined,
  };
  if (Object.values(redisTls).some(Boolean) && !redisTargetUsesTls(redis)) {
    throw new ConfigError(redis.kind === 'url' ? 'REDIS_TLS_* settings need a rediss:// REDIS_URL' : 'REDIS_TLS_* settings need REDIS_TLS=true (or REDIS_SENTINEL_TLS=true)');
  }
  if (Boolean(redisTls.certFile) !== Boolean(redisTls.keyFile)) throw new ConfigError('REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (a client certificate and its key)');
  const defaultTier = env.DEFAULT_TIER || 'standard';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(defaultTier)) throw new ConfigError(`DEFAULT_TIER must be a lowercase DNS label, got ${JSON.stringify(defaultTier)}`);
  const logLevel = flags['log-level'] ?? env.LOG_LEVEL ?? 'info';
  if (!['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'].includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be error, warn, info or debug, got ${JSON.stringify(logLevel)}`);
  const configFile = flags.config ?? env.POOLS_FILE;
  if (mode === 'standalone' && !configFile) throw new ConfigError('standalone mode needs --config FILE (or POOLS_FILE)');
  if (mode === 'standalone' && (flags['webhook-port'] ?? env.WEBHOOK_PORT)) throw new ConfigError('--webhook-port (WEBHOOK_PORT) is for operator mode: standalone mode has no Kubernetes evictions to guard');
  const operator = {
    kubeconfig: flags.kubeconfig ?? env.KUBECONFIG,
    namespace: flags.namespace ?? env.POD_NAMESPACE,
    leaseName: env.LEASE_NAME || 'smart-router-leader',
    identity: env.POD_NAME || `${env.HOSTNAME || 'smart-router'}-${process.pid}`,
    leaseDurationSeconds: int('LEASE_DURATION_SECONDS', env.LEASE_DURATION_SECONDS, 15, 2, 3600),
    renewDeadlineSeconds: int('RENEW_DEADLINE_SECONDS', env.RENEW_DEADLINE_SECONDS, 10, 1, 3600),
    retryPeriodSeconds: int('RETRY_PERIOD_SECONDS', env.RETRY_PERIOD_SECONDS, 2, 1, 600),
    resyncSeconds: int('RESYNC_SECONDS', env.RESYNC_SECONDS, 5, 1, 3600),
    fullResyncSeconds: int('FULL_RESYNC_SECONDS', env.FULL_RESYNC_SECONDS, 300, 1, 86400),
    statusCountsIntervalSeconds: int('STATUS_COUNTS_INTERVAL_SECONDS', env.STATUS_COUNTS_INTERVAL_SECONDS, 10, 1, 3600),
    statusCountWritesPerMinute: int('STATUS_COUNT_WRITES_PER_MINUTE', env.STATUS_COUNT_WRITES_PER_MINUTE, 60, 1, 100_000),
    autoscaleIntervalMs: int('AUTOSCALE_INTERVAL_MS', env.AUTOSCALE_INTERVAL_MS, 1000, 100, 60000),
    autoscaleRateWindowSeconds: int('AUTOSCALE_RATE_WINDOW_SECONDS', env.AUTOSCALE_RATE_WINDOW_SECONDS, 10, 0, 3600),
  };
  if (!(operator.renewDeadlineSeconds < operator.leaseDurationSeconds)) throw new ConfigError('RENEW_DEADLINE_SECONDS must be less than LEASE_DURATION_SECONDS');
  if (!(operator.retryPeriodSeconds < operator.renewDeadlineSeconds)) throw new ConfigError('RETRY_PERIOD_SECONDS must be less than RENEW_DEADLINE_SECONDS');
  const apiToken = env.API_TOKEN || undefined;
  if (apiToken !== undefined && !BEARER_TOKEN_PATTERN.test(apiToken)) throw new ConfigError('API_TOKEN may hold only letters, digits and -._~+/ (with = at the end), as a bearer token');
  return {
    mode,
    host: env.HOST || '0.0.0.0',
    port: int(flags.port !== undefined ? '--port' : 'PORT', flags.port ?? env.PORT, 8080, 0, 65535),
    redis,
    redisTls,
    redisCommandTimeoutMs: int('REDIS_COMMAND_TIMEOUT_MS', env.REDIS_COMMAND_TIMEOUT_MS, 1000, 10, 60000),
    keyPrefix: keyPrefixFrom(flags['key-prefix'] !== undefined ? '--key-prefix' : 'KEY_PREFIX', flags['key-prefix'] ?? env.KEY_PREFIX),
    installationId: installationIdFrom(env.INSTALLATION_ID),
    callTombstoneSeconds: int('CALL_TOMBSTONE_SECONDS', env.CALL_TOMBSTONE_SECONDS, 3600, 1, 7 * 86400),
    shedding: {
      maxInflightAllocations: int('SHED_MAX_INFLIGHT_ALLOCATIONS', env.SHED_MAX_INFLIGHT_ALLOCATIONS, 256, 0, 1_000_000),
      eventLoopLagMs: int('SHED_EVENT_LOOP_LAG_MS', env.SHED_EVENT_LOOP_LAG_MS, 100, 0, 60_000),
    },
    wsUrlTemplate,
    wsTokenSecret,
    wsTokenTtlSeconds: int('WS_TOKEN_TTL_SECONDS', env.WS_TOKEN_TTL_SECONDS, 300, 5, 86400),
    auth: {
      apiToken,
      tokensDir: env.AUTH_TOKENS_DIR || undefined,
      reloadMs: int('AUTH_TOKENS_RELOAD_SECONDS', env.AUTH_TOKENS_RELOAD_SECONDS, 5, 1, 3600) * 1000,
    },
    defaultTier,
    logLevel,
    trustProxy: parseTrustProxy(env.TRUST_PROXY || 'loopback'),
    http: httpSettings(env),
    reapIntervalMs: int('REAP_INTERVAL_SECONDS', env.REAP_INTERVAL_SECONDS, 30, 1, 3600) * 1000,
    stateCheckIntervalMs: int('STATE_CHECK_INTERVAL_MS', env.STATE_CHECK_INTERVAL_MS, 500, 50, 60000),
    lostStateGraceSeconds: int('LOST_STATE_GRACE_SECONDS', env.LOST_STATE_GRACE_SECONDS, 300, 0, 86400),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_SECONDS', env.SHUTDOWN_TIMEOUT_SECONDS, 20, 0, 3600) * 1000,
    standalone: { configFile },
    operator,
    webhook: webhookConfig(flags, env),
    tracing: tracingConfig(env),
    telephony: {
      publicUrl: publicUrlOf(env.PUBLIC_URL),
      verifySignatures: bool('TELEPHONY_VERIFY_SIGNATURES', env.TELEPHONY_VERIFY_SIGNATURES, true),
      twilioAuthToken: env.TWILIO_AUTH_TOKEN || undefined,
      plivoAuthToken: env.PLIVO_AUTH_TOKEN || undefined,
      exotelApiKey: env.EXOTEL_API_KEY || undefined,
      exotelApiToken: env.EXOTEL_API_TOKEN || undefined,
      failureMessage: env.TELEPHONY_FAILURE_MESSAGE || 'All our agents are busy right now. Please call again later.',
      plivoNonceTtlSeconds: int('PLIVO_NONCE_TTL_SECONDS', env.PLIVO_NONCE_TTL_SECONDS, 900, 1, 86400),
    },
  };
}
