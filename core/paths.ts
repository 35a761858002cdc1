import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding package.json. Sources run from `core/` under ts-jest and
 * from `dist/core/` when compiled, so data files (lua/, crds/) are found from
 * the package root rather than from a fixed relative depth.
 */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'crds'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`smart-router: package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
})();
