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
