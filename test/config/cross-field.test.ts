/**
 * `config check`, `doctor` and `run` find what would otherwise fail only at start (and again on every restart):
 * camera buffers that cannot work, TLS files that are not there, a real device beside a simulated twin clock. Each
 * problem names the field and the value; `run` exits 78 (EX_CONFIG) so systemd does not restart it in a loop.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smartscope-cross-field-'));
const write = (name: string, lines: string[]): string => {
  const p = join(dir, name);
  const mqtt = lines.some((l) => l.startsWith('mqtt:')) ? [] : [`mqtt: { outbox: { dir: ${join(dir, 'outbox')} } }`];
  writeFileSync(p, `${[`appliance: { stateDir: ${join(dir, 'state')} }`, 'health: { enabled: false }', ...mqtt, ...lines].join('\n')}\n`);
  return p;
};

describe('cross-field and file checks', () => {
  const buffers = write('buffers.yaml', ['camera: { poolSize: 4, queueDepth: 4 }']);
  const tls = write('tls.yaml', [
    `mqtt: { url: "mqtts://broker.plant:8883", tls: { ca: /etc/smartscope/no-such-ca.pem }, outbox: { dir: ${join(dir, 'outbox')} } }`,
  ]);
  const mix = write('mix.yaml', ['stage: { driver: grbl }']);

  it('config check lists each problem with path and value, exit 1', () => {
    for (const [file, path, value] of [
      [buffers, 'camera.queueDepth', 4],
      [tls, 'mqtt.tls.ca', '/etc/smartscope/no-such-ca.pem'],
      [mix, 'twin.clock', 'simulated'],
    ] as const) {
      const r = runCli(['-c', file, 'config', 'check', '--json']);
      expect(r.status, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as { file: string; valid: boolean; problems: Array<{ path: string; value: unknown }> };
      expect(out).toMatchObject({ file, valid: false });
      expect(out.problems).toContainEqual(expect.objectContaining({ path, value }));
    }
  });

  it('doctor fails its config check on them, exit 1', () => {
    const r = runCli(['-c', tls, 'doctor', '--json']);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
    expect(out.checks.find((c) => c.name === 'config')).toMatchObject({ status: 'fail', detail: expect.stringContaining('mqtt.tls.ca') });
  });

  it('run refuses them with EX_CONFIG (78), naming the field', () => {
    for (const [file, path] of [
      [buffers, 'camera.queueDepth'],
      [mix, 'twin.clock'],
    ] as const) {
      const r = runCli(['-c', file, 'run'], { NOTIFY_SOCKET: '' });
      expect(r.status, r.stderr.slice(-1500)).toBe(78);
      expect(r.stderr).toContain(path);
    }
  });
});
