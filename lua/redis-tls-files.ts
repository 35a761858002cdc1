import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/logger.js';

/** The REDIS_TLS_* settings: files for rediss:// and the name to check the server's certificate against. */
export interface RedisTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  servername?: string;
}

const VARIABLES = { caFile: 'REDIS_TLS_CA_FILE', certFile: 'REDIS_TLS_CERT_FILE', keyFile: 'REDIS_TLS_KEY_FILE' } as const;
type FileSetting = keyof typeof VARIABLES;

/**
 * How often the files are compared with what the client uses. A kubelet
 * updates a mounted Secret within about a minute of cert-manager renewing
 * it, and renewal happens well before expiry, so a few seconds more cost
 * nothing; reading three small files this often costs nothing either.
 */
export const REDIS_TLS_CHECK_MS = 10_000;

/**
 * TLS options for rediss:// from files: a private CA (instead of the
 * system's), a client certificate and key. Read at start: an unreadable
 * file, or a certificate and key that do not belong together, stops the
 * process naming the variables.
 */
export function redisTlsOptions(files: RedisTlsFiles): ConnectionOptions | undefined {
  if (!files.caFile && !files.certFile && !files.servername) return undefined;
  const read = (setting: FileSetting) => {
    const file = files[setting];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${VARIABLES[setting]}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const options = { ca: read('caFile'), cert: read('certFile'), key: read('keyFile'), servername: files.servername };
  const problem = unusable(options);
  if (problem) throw new ConfigError(`REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE: ${problem}`);
  return options;
}

/** Why Node could not make a TLS context of these (a broken PEM, a key that is not the certificate's), or undefined. */
function unusable(options: ConnectionOptions): string | undefined {
  try {
    createSecureContext(options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function fingerprint(options: ConnectionOptions | undefined): string {
  const hash = createHash('sha256');
  for (const part of [options?.ca, options?.cert, options?.key]) hash.update(String(part?.length ?? -1)).update(':').update((part as Buffer | undefined) ?? '');
  return hash.digest('hex');
}

/**
 * Keeps the TLS options a client was made with current: certificates rotated in place
 * (cert-manager renewing, the kubelet updating the mounted Secret) are used
 * from the next connection on, without a restart. The open connection stays
 * as it is: Redis checks certificates only at the handshake, so it keeps
 * working on the old ones until it drops, and ioredis reconnects with the
 * new ones. Files caught mid-update (a new certificate beside the old key)
 * are not taken: the previous ones stay and the next check tries again.
 *
 * The options object is changed in place, not replaced: ioredis copies its
 * properties into every tls.connect, and a Sentinel client (sentinels and
 * master) and every node client of a Cluster share the object they were
 * given, so one change reaches all of them.
 */
export class RedisTlsReloader {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private applied: string;
  private refusal = '';

  constructor(
    private readonly options: ConnectionOptions,
    private readonly files: RedisTlsFiles,
    private readonly logger: Logger,
  ) {
    this.applied = fingerprint(options);
  }

  /** Whether there is anything to follow: a rediss:// client with at least one file. */
  static needed(files: RedisTlsFiles): boolean {
    return Boolean(files.caFile || files.certFile || files.keyFile);
  }

  start(intervalMs = REDIS_TLS_CHECK_MS): this {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the files and, when they changed and fit together, hands them to the next connection. True when it did. */
  async check(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      return await this.reload();
    } finally {
      this.checking = false;
    }
  }

  private async reload(): Promise<boolean> {
    let next: ConnectionOptions;
    try {
      const read = async (setting: FileSetting) => (this.files[setting] ? await readFile(this.files[setting] as string) : undefined);
      next = { ca: await read('caFile'), cert: await read('certFile'), key: await read('keyFile'), servername: this.files.servername };
    } catch (err) {
      this.refuse(`cannot read them: ${(err as Error).message}`);
      return false;
    }
    const print = fingerprint(next);
    if (print === this.applied) {
      this.refusal = '';
      return false;
    }
    const problem = unusable(next);
    if (problem) {
      this.refuse(`they do not make a TLS context (${problem})`);
      return false;
    }
    Object.assign(this.options, { ca: next.ca, cert: next.cert, key: next.key });
    this.applied = print;
    this.refusal = '';
    this.logger.info('redis TLS files changed: new connections use them', { files: this.fileList() });
    return true;
  }

  /** Logged once per distinct problem, not on every check while it lasts. */
  private refuse(problem: string): void {
    if (problem === this.refusal) return;
    this.refusal = problem;
    this.logger.warn(`redis TLS files not reloaded, ${problem}: keeping the previous ones`, { files: this.fileList() });
  }

  private fileList(): string[] {
    return [this.files.caFile, this.files.certFile, this.files.keyFile].filter((f): f is string => Boolean(f));
  }
}
