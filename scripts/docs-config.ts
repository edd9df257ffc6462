/**
 * Writes docs/config.md and docs/recipe.md from their schemas: `npm run docs:config`. With --check, exits 1 when a
 * file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import { renderConfigReference, renderRecipeReference } from '../src/config/reference.js';
import { recipeSchema } from '../src/scan/recipe.js';

// Compiled to dist/scripts/: the repository root is two levels up.
const root = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const docs: Array<[string, string]> = [
  [root('docs/config.md'), renderConfigReference(configSchema)],
  [root('docs/recipe.md'), renderRecipeReference(recipeSchema, readFileSync(root('examples/recipes/plate-a.yaml'), 'utf8'))],
];
let stale = false;
for (const [target, text] of docs) {
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // Missing counts as stale.
    }
    if (current !== text) {
      process.stderr.write(`${target} is stale: run \`npm run docs:config\`\n`);
      stale = true;
    }
  } else {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
  }
}
if (stale) process.exit(1);
