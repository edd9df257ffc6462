/**
 * Where the installed program's own files are (package.json, models/, systemd/), found from this module's location so
 * that the same code works from src/ (tsx, vitest) and from dist/src/ (node).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'smartscope') return (root = d);
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the smartscope package root above ' + fileURLToPath(import.meta.url));
    d = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
