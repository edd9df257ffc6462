/**
 * The technician's commands, run as the built CLI: output, --json and exit codes (docs/cli.md).
 */
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { checkBroker, checkClock } from '../../src/appliance/doctor.js';
import { generateSigningKey } from '../../src/bundles/keys.js';
import { makeBundle, makeTrustedKey, writeBundleDir, writeBundleTar, type TestKeys } from '../support/bundles.js';
import { runCli } from '../support/cli.js';

let dir: string;
let keys: TestKeys;
let config: string;
let stateDir: string;
const cli = (...a: string[]) => runCli(['-c', config, ...a], { SUDO_USER: 'anna', SSH_CLIENT: '192.168.7.20 51000 22' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-cli-'));
  keys = makeTrustedKey(dir);
  stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `appliance:\n  stateDir: ${stateDir}\nscan:\n  pipeline: frame-loop\nmqtt:\n  outbox: { dir: ${join(stateDir, 'outbox')} }\nmodels:\n  trustedKeysDir: ${keys.trustedDir}\nhealth:\n  port: 1\ntwin:\n  sensor: { widthPx: 64, heightPx: 64 }\n`,
  );
  writeBundleTar(makeBundle({ version: '1.0.0' }, keys.privatePem), join(dir, 'v1.tar'));
  writeBundleDir(makeBundle({ version: '1.1.0', scale: 2 }, keys.privatePem), join(dir, 'v2'));
  writeBundleTar(makeBundle({ version: '9.0.0' }, generateSigningKey().privatePem), join(dir, 'stranger.tar'));
});

describe('exit codes', () => {
  it('2 for usage errors, 78 for an invalid config', () => {
    expect(cli('frobnicate').status).toBe(2);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'models:\n  keep: 1\n');
    const r = runCli(['-c', bad, 'model', 'list']);
    expect(r.status).toBe(78);
    expect(r.stderr).toBe(
      `smartscope: invalid configuration: ${bad}: 1 problem\n  - models.keep: 1 — expected a number >= 2 (Installed versions kept per role (the active one plus those a rollback can return to))\n`,
    );
  });
});

describe('smartscope run', () => {
  it('exits 3 with the reason when no verified model is installed', () => {
    const empty = join(dir, 'empty.yaml');
    writeFileSync(
      empty,
      `appliance: { stateDir: ${join(dir, 'empty-state')} }\nscan: { pipeline: frame-loop }\nmqtt: { outbox: { dir: ${join(dir, 'empty-state', 'outbox')} } }\nhealth: { enabled: false }\nmodels: { trustedKeysDir: ${keys.trustedDir} }\ntwin: { sensor: { widthPx: 64, heightPx: 64 } }\n`,
    );
    const r = runCli(['-c', empty, 'run']);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe(
      `smartscope: start-up failed: no verified zoom model is installed in ${join(dir, 'empty-state', 'models')}: install one with \`smartscope model install BUNDLE\`\n`,
    );
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg)
        .slice(-2),
    ).toEqual(['stopping', 'stopped']);
  });
});

describe('smartscope model', () => {
  it('installs, lists, refuses, activates and rolls back, auditing who did it from where', () => {
    let r = cli('model', 'install', join(dir, 'v1.tar'), '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // no progress bar without a terminal
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, id: 'tiny-seg@1.0.0', role: 'zoom', activated: true, previous: null, keyId: keys.id });

    r = cli('model', 'install', join(dir, 'stranger.tar'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^smartscope: refused: .+stranger\.tar is signed by key [0-9a-f]{16}, which is not trusted on this microscope \(trusted keys in .+: [0-9a-f]{16}\)\n$/,
    );

    r = cli('model', 'install', join(dir, 'v2'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `installed tiny-seg@1.1.0 (zoom, signed by key ${keys.id}, golden set 2 cases within tolerance)\nactive now; previous: tiny-seg@1.0.0. A running daemon switches between frames and rolls back by itself if the model degrades within 300 s.\n`,
    );

    r = cli('model', 'list', '--json');
    const list = JSON.parse(r.stdout) as { versions: Array<{ id: string; active: boolean }> };
    expect(list.versions.map((v) => [v.id, v.active])).toEqual([
      ['tiny-seg@1.0.0', false],
      ['tiny-seg@1.1.0', true],
    ]);

    r = cli('model', 'rollback');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('rolled zoom back from tiny-seg@1.1.0 to tiny-seg@1.0.0\n');
    r = cli('model', 'rollback');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('smartscope: refused: no earlier verified zoom model to roll back to (active: tiny-seg@1.0.0)\n');

    r = cli('model', 'activate', 'tiny-seg@1.1.0');
    expect(r.stdout).toBe('active zoom model: tiny-seg@1.1.0 (previous: tiny-seg@1.0.0)\n');
    r = cli('model', 'activate', 'tiny-seg@7.0.0');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('smartscope: refused: model tiny-seg@7.0.0 is not installed (installed: tiny-seg@1.0.0, tiny-seg@1.1.0)\n');

    r = cli('records', 'audit', '--json', '--limit', '100');
    const audit = JSON.parse(r.stdout) as Array<{ action: string; user: string; origin: string; outcome: string; subject: string }>;
    expect(audit.find((a) => a.action === 'model.install' && a.outcome === 'refused')).toMatchObject({ user: 'anna', origin: 'ssh 192.168.7.20' });
    expect(audit.filter((a) => a.action === 'model.rollback').map((a) => a.outcome)).toEqual(['refused', 'ok']);
  });

  it('verifies a bundle without installing it, and the active models', () => {
    let r = cli('model', 'verify', join(dir, 'stranger.tar'), '--json');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, results: [{ ok: false, code: 'unknown-key' }] });
    r = cli('model', 'verify');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ok      tiny-seg@1.1.0\n');
  });
});

describe('smartscope doctor', () => {
  it('passes on the twin with a good model and fails with a hint when the model is damaged', () => {
    let r = cli('doctor', '--json');
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string; hint?: string }> };
    expect(Object.fromEntries(out.checks.map((c) => [c.name, c.status]))).toMatchObject({
      config: 'pass',
      camera: 'pass',
      stage: 'pass',
      broker: 'skip',
      models: 'pass',
      disk: 'pass',
    });
    expect(r.status).toBe(out.checks.some((c) => c.status === 'fail') ? 1 : 0);

    const model = join(stateDir, 'models', 'versions', 'tiny-seg@1.1.0', 'model.onnx');
    const bytes = readFileSync(model);
    bytes[20] ^= 1;
    writeFileSync(model, bytes);
    r = cli('doctor');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL {2}models {2}zoom: tiny-seg@1\.1\.0: model\.onnx in .+ is corrupted: .+\n {14}hint: install a signed bundle with `smartscope model install BUNDLE`, or return to the previous one with `smartscope model rollback`$/m,
    );
  });

  it('checks the broker by connecting to it, and the clock against the install date', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const withUrl = (url: string): Config => ({ ...parseConfig({}), mqtt: { url } });
    expect(await checkBroker(withUrl(`mqtt://127.0.0.1:${port}`))).toMatchObject({ name: 'broker', status: 'pass' });
    await new Promise<void>((r) => server.close(() => r()));
    expect(await checkBroker(withUrl(`mqtt://127.0.0.1:${port}`))).toEqual({
      name: 'broker',
      status: 'fail',
      detail: `127.0.0.1:${port}: ECONNREFUSED`,
      hint: 'check the broker host name and port in mqtt.url, DNS, and that the broker runs',
    });
    expect(checkClock(new Date('2001-01-01T00:00:00Z'))).toMatchObject({
      status: 'fail',
      hint: 'set the time and enable NTP (systemd-timesyncd or chrony): records and events carry timestamps',
    });
  });
});

describe('smartscope bench', () => {
  it('lists the benchmark areas from package.json', () => {
    const r = cli('bench', '--list', '--json');
    expect(JSON.parse(r.stdout)).toContain('twin');
    expect(cli('bench', 'nonsense').status).toBe(2);
  });
});
