import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { renderConfigReference } from '../../src/config/reference.js';

describe('docs/config.md', () => {
  it('is generated from the current schema (run `npm run docs:config` when this fails)', () => {
    const current = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const fresh = renderConfigReference(configSchema);
    if (current !== fresh) throw new Error('docs/config.md is stale: run `npm run docs:config` and commit the result');
    expect(current).toContain('| `models.keep` | integer | `3` | ≥ 2, ≤ 20 |');
  });
});

describe('docs/recipe.md and the example recipe', () => {
  it('is generated from the recipe schema, and the example it shows is a valid recipe', async () => {
    const { recipeSchema, loadRecipe } = await import('../../src/scan/recipe.js');
    const { renderRecipeReference } = await import('../../src/config/reference.js');
    const examplePath = new URL('../../examples/recipes/plate-a.yaml', import.meta.url);
    const current = readFileSync(new URL('../../docs/recipe.md', import.meta.url), 'utf8');
    if (current !== renderRecipeReference(recipeSchema, readFileSync(examplePath, 'utf8'))) {
      throw new Error('docs/recipe.md is stale: run `npm run docs:config` and commit the result');
    }
    const r = loadRecipe(examplePath.pathname);
    expect(r).toMatchObject({ id: 'plate-a', version: '3', unreachable: 'skip' });
    expect(r.acceptance.maxDefectsPerCm2).toEqual({ total: 20, crack: 0 });
  });
});
