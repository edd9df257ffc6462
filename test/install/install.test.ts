/**
 * scripts/install into a scratch root: account, folders, unit, command, config, trusted key and a model bundle, and
 * a second run that changes nothing it should keep.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Records } from '../../src/records/records.js';
import { makeBundle, makeTrustedKey, writeBundleTar, type TestKeys } from '../support/bundles.js';
import { repoRoot } from '../support/cli.js';

const isRoot = process.getuid?.() === 0;
let dir: string;
let root: string;
let keys: TestKeys;

function install(...args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync('bash', [join(repoRoot, 'scripts', 'install'), '--root', root, '--app', 'link', '--no-start', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-install-'));
  // As on a real board, the service account must be able to reach its state folder (mkdtemp makes 0700 folders).
  chmodSync(dir, 0o755);
  root = join(dir, 'root');
  keys = makeTrustedKey(dir);
  writeBundleTar(makeBundle({ version: '1.0.0' }, keys.privatePem), join(dir, 'v1.tar'));
});

// Creating the account's folders with their owner needs root, as on a real board (the test machines run as root).
describe.skipIf(!isRoot)('scripts/install', () => {
  it('sets up a board in a scratch root', () => {
    const r = install(
      '--trusted-key',
      join(keys.trustedDir, 'factory.pub'),
      '--model',
      join(dir, 'v1.tar'),
      '--recipe',
      join(repoRoot, 'examples/recipes/plate-a.yaml'),
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(readdirSync(join(root, 'etc/smartscope/recipes'))).toEqual(['plate-a.yaml']);
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    const uid = Number(/^smartscope:x:(\d+):/m.exec(passwd)![1]);
    expect(statSync(join(root, 'var/lib/smartscope')).uid).toBe(uid);
    const unit = readFileSync(join(root, 'etc/systemd/system/smartscope.service'), 'utf8');
    const nodeBin = spawnSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    expect(unit).toContain(`\nExecStart=${nodeBin} /opt/smartscope/dist/src/cli.js run\n`);
    expect(readFileSync(join(root, 'usr/local/bin/smartscope'), 'utf8')).toMatch(/^exec .+\/node \/opt\/smartscope\/dist\/src\/cli\.js "\$@"$/m);
    expect(existsSync(join(root, 'opt/smartscope/dist/src/cli.js'))).toBe(true);
    expect(readFileSync(join(root, 'etc/smartscope/config.yaml'), 'utf8')).toContain('smartscope config check');
    expect(readdirSync(join(root, 'etc/smartscope/trusted-keys'))).toEqual(['factory.pub']);
    const active = JSON.parse(readFileSync(join(root, 'var/lib/smartscope/models/active.json'), 'utf8')) as { roles: { zoom: { id: string } } };
    expect(active.roles.zoom.id).toBe('tiny-seg@1.0.0');
    expect(statSync(join(root, 'var/lib/smartscope/models/versions/tiny-seg@1.0.0')).uid).toBe(uid);
    const rec = Records.open({ path: join(root, 'var/lib/smartscope/records.db'), readonly: true });
    try {
      expect(rec.recentAudit(20).map((a) => a.action)).toContain('model.activate');
    } finally {
      rec.close();
    }
    const verify = spawnSync('systemd-analyze', ['verify', join(root, 'etc/systemd/system/smartscope.service')], { encoding: 'utf8' });
    expect(verify.stderr.trim()).toBe('');
  });

  it('runs again without touching an existing config, and refuses an invalid one', () => {
    const conf = join(root, 'etc/smartscope/config.yaml');
    writeFileSync(conf, 'device:\n  id: bench-7\n');
    expect(install().status).toBe(0);
    expect(readFileSync(conf, 'utf8')).toBe('device:\n  id: bench-7\n');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'health:\n  port: 0\n');
    const r = install('--config', bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('  - health.port: 0 — expected a number >= 1 (TCP port)');
    expect(r.stderr).toContain(`install: ${conf} is not valid; fix it and run the installer again`);
  });
});
