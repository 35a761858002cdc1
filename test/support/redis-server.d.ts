export interface TestRedisServer {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  destroy(): Promise<void>;
}
export function freePort(): Promise<number>;
export function launchRedis(options?: { port?: number; appendonly?: boolean }): Promise<TestRedisServer>;
