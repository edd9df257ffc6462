/**
 * Writes docs/config.md from the config schema: `npm run docs:config`. With --check, exits 1 when the file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import { renderConfigReference } from '../src/config/reference.js';

// Compiled to dist/scripts/: the repository root is two levels up.
const target = fileURLToPath(new URL('../../docs/config.md', import.meta.url));
const text = renderConfigReference(configSchema);
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== text) {
    process.stderr.write('docs/config.md is stale: run `npm run docs:config`\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
