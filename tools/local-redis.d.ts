export interface LocalRedis {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  destroy(): Promise<void>;
}
export function freePort(): Promise<number>;
/** A redis-server of its own in a temp dir, AOF on unless told otherwise. */
export function launchRedis(options?: { port?: number; appendonly?: boolean; args?: string[] }): Promise<LocalRedis>;
