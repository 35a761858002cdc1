import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BEARER_TOKEN_PATTERN, ConfigError } from '../core/config.js';
import { silentLogger, type Logger } from '../core/logger.js';

/**
 * What a credential may do. `routing`: allocate and release calls (what a
 * telephony service needs). `agent`: wait for its pod to go idle, the one
 * call a voice agent's preStop hook makes, and nothing else. `admin`:
 * everything under /api/v1 but allocate and release (drain, undrain, pod
 * details with their call ids, status, wait-idle, any route added later).
 */
export const SCOPES = ['routing', 'admin', 'agent'] as const;
export type Scope = (typeof SCOPES)[number];


const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

interface Entry {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

/**
 * A token file: one token a line; blank lines and lines starting with `#`
 * are ignored, surrounding whitespace is not part of a token. Several tokens
 * in a file are all valid at once, which is how a rotation overlaps.
 */
export function parseTokenFile(text: string): { tokens: string[]; invalidLines: number[] } {
  const tokens: string[] = [];
  const invalidLines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (BEARER_TOKEN_PATTERN.test(line)) tokens.push(line);
    else invalidLines.push(i + 1);
  });
  return { tokens, invalidLines };
}

/** Tokens by scope, from the environment and from a mounted Secret directory. */
export interface CredentialSettings {
  /** API_TOKEN: one token holding every scope, for installations from before scopes. */
  legacyToken?: string;
  /** A directory with one file per scope (`routing`, `admin`, `agent`), as a Kubernetes Secret mounts it. */
  tokensDir?: string;
  /** How often the directory is read again, so a rotated Secret takes effect without a restart. */
  reloadMs: number;
}

/** A credential setting that cannot be used: stops the process at start, like a wrong variable. */
export class CredentialsError extends ConfigError {
  override name = 'CredentialsError';
}

/**
 * The valid bearer tokens and their scopes. Tokens from the directory are
 * read again every `reloadMs`: a token added to a file is accepted, a token
 * removed stops working, without a restart. A file that is missing or
 * empty gives its scope no token, so that scope refuses everyone: once a
 * directory is configured, the API never falls back to open.
 */
export class Credentials {
  private entries: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSummary = '';

  private constructor(
    private readonly settings: CredentialSettings,
    private readonly logger: Logger,
  ) {}

  /** No credential at all: the API is open. */
  static none(): Credentials {
    return new Credentials({ reloadMs: 0 }, silentLogger());
  }

  /** Reads the directory once (a missing directory stops the process) and keeps it fresh. */
  static open(settings: CredentialSettings, logger: Logger): Credentials {
    const credentials = new Credentials(settings, logger);
    if (settings.tokensDir) {
      credentials.apply(credentials.readSync());
      credentials.timer = setInterval(() => void credentials.reload(), settings.reloadMs);
      credentials.timer.unref();
    } else {
      credentials.apply({});
    }
    return credentials;
  }

  /** False when no credential is configured at all: the API is open (and a warning says so at start). */
  get enforced(): boolean {
    return this.settings.legacyToken !== undefined || this.settings.tokensDir !== undefined;
  }

  /**
   * The scopes a presented token holds; empty when it is not valid. Every
   * known token is compared, over fixed-length digests, so the time taken
   * says nothing about how much of a token matched or which one did.
   */
  scopesOf(token: string): ReadonlySet<Scope> {
    const presented = digest(token);
    const scopes = new Set<Scope>();
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.digest)) for (const scope of entry.scopes) scopes.add(scope);
    }
    return scopes;
  }

  /** Reads the directory now; tests and SIGHUP-like triggers use it, the timer calls it. */
  async reload(): Promise<void> {
    const dir = this.settings.tokensDir;
    if (!dir) return;
    const files: Partial<Record<Scope, string>> = {};
    try {
      for (const scope of SCOPES) files[scope] = await readFile(join(dir, scope), 'utf8').catch(missingAsEmpty);
    } catch (err) {
      // Kept: a transient read error must not lock every client out.
      this.logger.error('credentials not reloaded: keeping the previous tokens', { dir, error: (err as Error).message });
      return;
    }
    this.apply(files);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private readSync(): Partial<Record<Scope, string>> {
    const dir = this.settings.tokensDir as string;
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new CredentialsError(`AUTH_TOKENS_DIR ${dir} is not a readable directory`);
    const files: Partial<Record<Scope, string>> = {};
    for (const scope of SCOPES) {
      try {
        files[scope] = readFileSync(join(dir, scope), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CredentialsError(`AUTH_TOKENS_DIR: cannot read ${join(dir, scope)}: ${(err as Error).message}`);
        files[scope] = '';
      }
    }
    return files;
  }

  private apply(files: Partial<Record<Scope, string>>): void {
    const byToken = new Map<string, Set<Scope>>();
    const grant = (token: string, scopes: readonly Scope[]) => {
      const held = byToken.get(token) ?? new Set<Scope>();
      for (const scope of scopes) held.add(scope);
      byToken.set(token, held);
    };
    if (this.settings.legacyToken !== undefined) grant(this.settings.legacyToken, SCOPES);
    const counts: Record<string, number> = {};
    for (const scope of SCOPES) {
      const { tokens, invalidLines } = parseTokenFile(files[scope] ?? '');
      if (invalidLines.length > 0) {
        this.logger.warn('token file has lines that are not tokens: they are ignored', { file: scope, lines: invalidLines });
      }
      tokens.forEach((token) => grant(token, [scope]));
      counts[scope] = tokens.length;
    }
    this.entries = [...byToken].map(([token, scopes]) => ({ digest: digest(token), scopes }));
    if (!this.settings.tokensDir) return;
    // Logged when the set changes, with counts only: never a token.
    const summary = JSON.stringify(counts);
    if (summary === this.lastSummary) return;
    this.lastSummary = summary;
    this.logger.info('credentials loaded', { dir: this.settings.tokensDir, tokens: counts });
    // No agent token is an ordinary setup: admin tokens can wait for a pod too.
    for (const scope of ['routing', 'admin'] as const) {
      if (counts[scope] === 0 && this.settings.legacyToken === undefined) {
        this.logger.warn(`no ${scope} token: ${scope} routes refuse every request`, { dir: this.settings.tokensDir, file: scope });
      }
    }
  }
}

function missingAsEmpty(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return '';
  throw err;
}
