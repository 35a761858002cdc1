import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-client.js';
import { packageRoot } from '../core/paths.js';

export const LUA_DIR = join(packageRoot, 'lua');

export interface LuaCommand {
  /** camelCase name the command is defined under on the ioredis client. */
  name: string;
  numberOfKeys: number;
  lua: string;
}

const INCLUDE = /^--@include "([^"]+)"\s*$/gm;

/** Inlines `--@include "file"` lines, each file once, so helpers are shared, not copied. */
function expandIncludes(source: string, seen: Set<string>): string {
  return source.replace(INCLUDE, (_line, file: string) => {
    if (seen.has(file)) return '';
    seen.add(file);
    return expandIncludes(readFileSync(join(LUA_DIR, file), 'utf8'), seen);
  });
}

/** Every `<command>-<numberOfKeys>.lua` in lua/, ready for defineCommand. */
export function loadLuaCommands(dir: string = LUA_DIR): LuaCommand[] {
  return readdirSync(dir)
    .filter((file) => /^[a-z][a-z-]*-\d+\.lua$/.test(file))
    .sort()
    .map((file) => {
      const match = /^([a-z][a-z-]*)-(\d+)\.lua$/.exec(file) as RegExpExecArray;
      const name = (match[1] as string).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      return {
        name,
        numberOfKeys: Number(match[2]),
        lua: expandIncludes(readFileSync(join(dir, file), 'utf8'), new Set()),
      };
    });
}

/** Defines every command on the client; ioredis then runs them by EVALSHA. */
export function defineLuaCommands(redis: RedisClient): void {
  for (const command of loadLuaCommands()) {
    // A command named like a client member (status, quit, ...) would replace it.
    if (command.name in redis && !(redis as unknown as Record<string, unknown>)[`${command.name}Buffer`]) {
      throw new Error(`lua command ${command.name} would shadow the ioredis client's own ${command.name}`);
    }
    redis.defineCommand(command.name, { numberOfKeys: command.numberOfKeys, lua: command.lua });
  }
}
