import { ConfigError, loadConfig, parseCommandLine } from '../../../core/config.js';

describe('loadConfig', () => {
  test('defaults make a working standalone router', () => {
    const config = loadConfig(['standalone', '--config', 'pools.yaml'], {});
    expect(config).toMatchObject({
      mode: 'standalone',
      port: 8080,
      redis: { kind: 'url', url: 'redis://127.0.0.1:6379' },
      callTombstoneSeconds: 3600,
      shedding: { maxInflightAllocations: 256, eventLoopLagMs: 100 },
      wsUrlTemplate: 'wss://localhost/ws/pod/{pod}/{call_sid}',
      defaultTier: 'standard',
      standalone: { configFile: 'pools.yaml' },
    });
    expect(config.auth).toEqual({ apiToken: undefined, tokensDir: undefined, reloadMs: 5000 });
    // Each mode picks a prefix per installation unless one is set (core/installation.ts).
    expect(config.keyPrefix).toBeUndefined();
    expect(config.installationId).toBeUndefined();
    expect(config.trustProxy).toEqual(['loopback']);
    expect(config.http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 20_000, readCacheMs: 1000, adminRateLimit: { perSecond: 10, burst: 50 } });
    expect(config.telephony).toMatchObject({ publicUrl: undefined, plivoNonceTtlSeconds: 900 });
  });

  test('TRUST_PROXY takes a hop count or addresses, CIDRs and names', () => {
    const trust = (value: string) => loadConfig([], { TRUST_PROXY: value }).trustProxy;
    expect(trust('1')).toBe(1);
    expect(trust('loopback, 10.0.0.0/8,fd00::/8, 192.168.1.7')).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
    expect(loadConfig([], { PUBLIC_URL: 'https://edge.example.com/router/' }).telephony.publicUrl).toBe('https://edge.example.com/router');
  });

  test('flags win over the environment', () => {
    const config = loadConfig(['standalone', '--config=a.yaml', '--port', '9000', '--redis-url', 'redis://r:1'], { PORT: '7000', REDIS_URL: 'redis://x:2' });
    expect(config).toMatchObject({ port: 9000, redis: { kind: 'url', url: 'redis://r:1' } });
  });

  test('every flag reaches its setting, as --name value or --name=value', () => {
    const config = loadConfig(
      ['operator', '--kubeconfig', '/k', '--namespace=voice', '--port', '9000', '--redis-url', 'redis://r:1', '--key-prefix', 'sr', '--log-level=debug', '--webhook-port', '9443'],
      {},
    );
    expect(config).toMatchObject({ mode: 'operator', port: 9000, redis: { kind: 'url', url: 'redis://r:1' }, keyPrefix: 'sr', logLevel: 'debug' });
    expect(config.operator).toMatchObject({ kubeconfig: '/k', namespace: 'voice' });
    expect(config.webhook.port).toBe(9443);
    // A value may hold "=" and may follow the mode or come before it; the last of a repeated flag wins.
    expect(parseCommandLine(['--config=a=b.yaml', 'standalone', '--port', '1', '--port', '2'])).toEqual({ mode: 'standalone', flags: { config: 'a=b.yaml', port: '2' } });
    expect(parseCommandLine([])).toEqual({ mode: undefined, flags: {} });
  });

  test('a value that starts with a dash is taken only after "=", and then checked like any other', () => {
    expect(() => loadConfig(['operator', '--port=-1'], {})).toThrow(new ConfigError('--port must be between 0 and 65535, got -1'));
  });

  test('the eviction guard is off unless a webhook port is given, and fails open within 5 s by default', () => {
    expect(loadConfig([], {}).webhook).toMatchObject({ port: undefined, registration: 'url', urlHost: '127.0.0.1', timeoutSeconds: 5, certificates: 'self', secretName: 'smart-router-webhook-tls' });
    expect(loadConfig(['operator', '--webhook-port', '9443'], {}).webhook.port).toBe(9443);
    expect(loadConfig([], { WEBHOOK_PORT: '8443', WEBHOOK_REGISTRATION: 'ca-bundle', WEBHOOK_SERVICE_NAME: 'sr' }).webhook).toMatchObject({ port: 8443, registration: 'ca-bundle', serviceName: 'sr' });
  });

  test('call counts reach pool status every 10 s per pool and 60 times a minute in all', () => {
    expect(loadConfig([], {}).operator).toMatchObject({ statusCountsIntervalSeconds: 10, statusCountWritesPerMinute: 60 });
  });

  test('the mode defaults to operator', () => {
    expect(loadConfig([], { POD_NAMESPACE: 'voice' }).mode).toBe('operator');
  });

  test.each([
    [['standalone'], {}, 'standalone mode needs --config FILE (or POOLS_FILE)'],
    [['cluster'], {}, 'unknown mode "cluster": use "operator" or "standalone"'],
    [['operator', '--prot', '1'], {}, 'unknown flag --prot'],
    [['operator', '--port'], {}, 'flag --port needs a value'],
    [['operator', '--port='], {}, 'flag --port needs a value'],
    [['operator', '--port', '--redis-url', 'redis://r:1'], {}, 'flag --port needs a value, got the flag-like "--redis-url"; write --port=--redis-url if that is the value'],
    [['operator', '--port', '-1'], {}, 'flag --port needs a value, got the flag-like "-1"; write --port=-1 if that is the value'],
    [['operator', '-p', '9000'], {}, 'unknown flag -p'],
    [['operator', '--no-webhook-port'], {}, 'unknown flag --no-webhook-port'],
    [['standalone', '--config', 'f', '--verbose'], {}, 'unknown flag --verbose'],
    [['operator', 'standalone'], {}, 'unexpected argument "standalone": give one mode, operator or standalone'],
    [['operator'], { PORT: 'eighty' }, 'PORT must be an integer, got "eighty"'],
    [['operator'], { PORT: '70000' }, 'PORT must be between 0 and 65535, got 70000'],
    [['operator'], { REDIS_URL: 'localhost:6379' }, 'REDIS_URL must start with redis:// or rediss://, got "localhost:6379"'],
    [['operator'], { WS_URL_TEMPLATE: 'wss://h/{pod}/{sid}' }, 'WS_URL_TEMPLATE unknown placeholder {sid}; known: {pod} {call_sid} {pool} {merchant_id} {provider} {token}'],
    [['operator'], { DEFAULT_TIER: 'Gold' }, 'DEFAULT_TIER must be a lowercase DNS label, got "Gold"'],
    [['operator'], { TELEPHONY_VERIFY_SIGNATURES: 'maybe' }, 'TELEPHONY_VERIFY_SIGNATURES must be true or false, got "maybe"'],
    [['operator'], { KEY_PREFIX: '{bad}' }, 'KEY_PREFIX must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$, got "{bad}"'],
    [['operator'], { INSTALLATION_ID: 'two words' }, 'INSTALLATION_ID must be 1 to 253 printable characters without spaces, got "two words"'],
    [['operator'], { LEASE_DURATION_SECONDS: '5', RENEW_DEADLINE_SECONDS: '10' }, 'RENEW_DEADLINE_SECONDS must be less than LEASE_DURATION_SECONDS'],
    [['operator'], { API_TOKEN: 'two words' }, 'API_TOKEN may hold only letters, digits and -._~+/ (with = at the end), as a bearer token'],
    [['operator'], { AUTH_TOKENS_RELOAD_SECONDS: '0' }, 'AUTH_TOKENS_RELOAD_SECONDS must be between 1 and 3600, got 0'],
    [['operator', '--webhook-port', 'x'], {}, '--webhook-port must be an integer, got "x"'],
    [['standalone', '--config', 'f', '--webhook-port', '9443'], {}, '--webhook-port (WEBHOOK_PORT) is for operator mode: standalone mode has no Kubernetes evictions to guard'],
    [['operator'], { WEBHOOK_REGISTRATION: 'service' }, 'WEBHOOK_REGISTRATION must be one of url, ca-bundle, none, got "service"'],
    [['operator'], { WEBHOOK_CERTIFICATES: 'files' }, 'WEBHOOK_CERTIFICATES=files needs WEBHOOK_CERT_DIR (a directory with tls.crt and tls.key)'],
    [['operator'], { WEBHOOK_CA_LIFETIME_SECONDS: '3600', WEBHOOK_CERT_LIFETIME_SECONDS: '1201' }, 'WEBHOOK_CERT_LIFETIME_SECONDS must be at most a third of WEBHOOK_CA_LIFETIME_SECONDS'],
    [['operator'], { WEBHOOK_CA_LIFETIME_SECONDS: '600', WEBHOOK_CERT_LIFETIME_SECONDS: '200', WEBHOOK_CA_OVERLAP_SECONDS: '300' }, 'WEBHOOK_CA_OVERLAP_SECONDS plus two WEBHOOK_CERT_CHECK_SECONDS must be less than a third of WEBHOOK_CA_LIFETIME_SECONDS'],
    [['operator'], { WEBHOOK_TIMEOUT_SECONDS: '60' }, 'WEBHOOK_TIMEOUT_SECONDS must be between 1 and 30, got 60'],
    [['operator'], { TRUST_PROXY: 'true' }, 'TRUST_PROXY must be a hop count or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal; "true" is none of these'],
    [['operator'], { TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY must be a hop count or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal; "10.0.0.0/33" is none of these'],
    [['operator'], { TRUST_PROXY: '11' }, 'TRUST_PROXY must be between 0 and 10, got 11'],
    [['operator'], { PUBLIC_URL: 'router.example.com' }, 'PUBLIC_URL must be an absolute http(s) URL such as https://router.example.com, got "router.example.com"'],
    [['operator'], { PUBLIC_URL: 'https://router.example.com/?a=1' }, 'PUBLIC_URL must be an http(s) base URL without credentials, query or fragment, got "https://router.example.com/?a=1"'],
    [['operator'], { HTTP_HEADERS_TIMEOUT_SECONDS: '40', HTTP_REQUEST_TIMEOUT_SECONDS: '30' }, 'HTTP_HEADERS_TIMEOUT_SECONDS must not exceed HTTP_REQUEST_TIMEOUT_SECONDS'],
    [['operator'], { WS_URL_TEMPLATE: 'wss://h/{pod}?t={token}' }, 'WS_URL_TEMPLATE has {token}: set WS_TOKEN_SECRET, the secret the voice agents verify it with'],
    [['operator'], { WS_TOKEN_SECRET: 'x'.repeat(32) }, 'WS_TOKEN_SECRET is set but WS_URL_TEMPLATE has no {token}: the agents would get no token to verify'],
    [['operator'], { WS_URL_TEMPLATE: 'wss://h/{pod}?t={token}', WS_TOKEN_SECRET: 'short' }, 'WS_TOKEN_SECRET must be at least 32 characters (for example: openssl rand -hex 32)'],
    [['operator'], { REDIS_TLS_CA_FILE: '/ca.crt' }, 'REDIS_TLS_* settings need a rediss:// REDIS_URL'],
    [['operator'], { REDIS_URL: 'rediss://r:6380', REDIS_TLS_CERT_FILE: '/tls.crt' }, 'REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (a client certificate and its key)'],
    [['operator'], { STATUS_CACHE_MS: '-1' }, 'STATUS_CACHE_MS must be between 0 and 60000, got -1'],
    [['operator'], { CALL_TOMBSTONE_SECONDS: '0' }, 'CALL_TOMBSTONE_SECONDS must be between 1 and 604800, got 0'],
    [['operator'], { SHED_EVENT_LOOP_LAG_MS: 'fast' }, 'SHED_EVENT_LOOP_LAG_MS must be an integer, got "fast"'],
    [['operator'], { SHED_MAX_INFLIGHT_ALLOCATIONS: '-1' }, 'SHED_MAX_INFLIGHT_ALLOCATIONS must be between 0 and 1000000, got -1'],
    [['operator'], { PLIVO_NONCE_TTL_SECONDS: '0' }, 'PLIVO_NONCE_TTL_SECONDS must be between 1 and 86400, got 0'],
    [['operator'], { STATUS_COUNT_WRITES_PER_MINUTE: '0' }, 'STATUS_COUNT_WRITES_PER_MINUTE must be between 1 and 100000, got 0'],
    [['operator'], { STATUS_COUNTS_INTERVAL_SECONDS: 'often' }, 'STATUS_COUNTS_INTERVAL_SECONDS must be an integer, got "often"'],
    [['operator'], { AUTOSCALE_INTERVAL_MS: '50' }, 'AUTOSCALE_INTERVAL_MS must be between 100 and 60000, got 50'],
    [['operator'], { AUTOSCALE_RATE_WINDOW_SECONDS: '-1' }, 'AUTOSCALE_RATE_WINDOW_SECONDS must be between 0 and 3600, got -1'],
  ])('%j with %j stops with: %s', (argv, env, message) => {
    expect(() => loadConfig(argv, env)).toThrow(new ConfigError(message));
  });
});

describe('tracing from the OTEL_* variables', () => {
  const tracing = (env: Record<string, string>) => loadConfig([], env).tracing;

  test('off unless an exporter or an OTLP endpoint is configured', () => {
    expect(tracing({})).toEqual({ exporter: 'none', protocol: 'http/protobuf' });
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({ exporter: 'otlp', protocol: 'http/protobuf' });
    expect(tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual({ exporter: 'otlp', protocol: 'http/json' });
    expect(tracing({ OTEL_TRACES_EXPORTER: 'console' }).exporter).toBe('console');
  });

  test('OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED win over an endpoint', () => {
    expect(tracing({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).exporter).toBe('none');
    expect(tracing({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }).exporter).toBe('none');
  });

  test.each([
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, 'OTEL_TRACES_EXPORTER must be one of otlp, console, none, got "jaeger"'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, got "grpc"'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be one of http/protobuf, http/json, got "grpc"'],
    [{ OTEL_SDK_DISABLED: 'maybe' }, 'OTEL_SDK_DISABLED must be true or false, got "maybe"'],
  ])('%j stops with: %s', (env, message) => {
    expect(() => loadConfig([], env)).toThrow(new ConfigError(message));
  });
});
