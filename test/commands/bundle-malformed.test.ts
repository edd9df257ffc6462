/**
 * A malformed bundle file is a refused bundle (docs/cli.md: exit 1), with the reason on stderr or as a JSON error
 * object with --json — never a crash with exit 3 and nothing on stdout.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('malformed bundle .tar', () => {
  it('install and verify refuse it with exit 1; --json prints {ok: false, code, error}', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-bad-tar-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `appliance: { stateDir: ${join(dir, 'state')} }\nmodels: { trustedKeysDir: ${join(dir, 'keys')} }\n`);
    const tar = join(dir, 'bad.tar');
    writeFileSync(tar, Buffer.alloc(3000, 0x41));
    const json = runCli(['-c', config, 'model', 'install', tar, '--json']);
    expect(json.status, json.stderr).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: 'corrupted', error: expect.stringContaining(`${tar}: not a tar archive`) });
    const text = runCli(['-c', config, 'model', 'verify', tar]);
    expect(text.status).toBe(1);
    expect(text.stderr).toContain('smartscope: refused: ');
  });
});
