/**
 * The appliance daemon end to end: `smartscope run` on the twin with real ONNX models, a stand-in for systemd's
 * notification socket, the health endpoint, and a technician installing models over the CLI while it runs.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Records } from '../../src/records/records.js';
import { makeBundle, makeTrustedKey, writeBundleTar, type TestKeys } from '../support/bundles.js';
import { runCli } from '../support/cli.js';
import { Daemon, freePort, getJson, getText, NotifyReceiver, until } from '../support/daemon.js';

let dir: string;
let keys: TestKeys;
let config: string;
let stateDir: string;
let port: number;
let receiver: NotifyReceiver;
let daemon: Daemon;

const model = async (): Promise<string | undefined> => {
  const h = await getJson(port, '/healthz');
  return ((h.body.models as Record<string, { id: string }>).zoom ?? {}).id;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-daemon-'));
  keys = makeTrustedKey(dir);
  stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  writeBundleTar(makeBundle({ version: '1.0.0' }, keys.privatePem), join(dir, 'v1.tar'));
  writeBundleTar(makeBundle({ version: '1.1.0', scale: 2 }, keys.privatePem), join(dir, 'v2.tar'));
  // Passes its golden set (it reproduces itself), but on the instrument it sees no defects at all.
  writeBundleTar(makeBundle({ version: '2.0.0', backgroundBias: 30 }, keys.privatePem), join(dir, 'blind.tar'));
  port = await freePort();
  config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `appliance: { stateDir: ${stateDir}, shutdownTimeoutS: 15 }`,
      // These tests install tiny tensor models: the camera/model self-check pipeline runs them.
      'scan: { pipeline: frame-loop }',
      `mqtt: { outbox: { dir: ${join(stateDir, 'outbox')} } }`,
      `health: { port: ${port} }`,
      `models: { trustedKeysDir: ${keys.trustedDir}, watchIntervalMs: 200, probation: { durationS: 3, minFrames: 5, maxLatencyRatio: 100 } }`,
      'twin: { sensor: { widthPx: 64, heightPx: 64 } }',
      '',
    ].join('\n'),
  );
  expect(runCli(['-c', config, 'model', 'install', join(dir, 'v1.tar')]).status).toBe(0);
  receiver = new NotifyReceiver(join(dir, 'notify.sock'));
  await receiver.started();
  daemon = new Daemon(config, { NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '1000000', SUDO_USER: '', SSH_CLIENT: '' });
});

afterAll(() => {
  daemon?.proc.kill('SIGKILL');
  receiver?.stop();
});

describe('smartscope run', () => {
  it('reports READY only after camera, stage and models are up, then feeds the watchdog from frames', async () => {
    await until('READY=1', () => receiver.states().some((m) => m.startsWith('READY=1')));
    const states = receiver.states();
    const ready = states.findIndex((m) => m.startsWith('READY=1'));
    const before = states.slice(0, ready).join('\n');
    for (const step of ['STATUS=opening records', 'STATUS=opening camera', 'STATUS=connecting stage', 'STATUS=loading models', 'STATUS=starting pipeline']) {
      expect(before).toContain(step);
    }
    expect(before).not.toContain('WATCHDOG=1');
    expect(states[ready]).toBe('READY=1|STATUS=running; models tiny-seg@1.0.0');
    await until('two watchdog pings', () => receiver.states().filter((m) => m === 'WATCHDOG=1').length >= 2);
    const h = await getJson(port, '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', checks: { camera: { ok: true }, stage: { ok: true }, 'model.zoom': { ok: true, detail: 'tiny-seg@1.0.0' } } });
  });

  it('serves Prometheus metrics', async () => {
    const text = await until('frames in /metrics', async () => {
      const t = await getText(port, '/metrics');
      return /^smartscope_frames_total [1-9]/m.test(t) ? t : null;
    });
    expect(text).toMatch(/^smartscope_model_info\{role="zoom",model="tiny-seg@1\.0\.0"\} 1$/m);
    expect(text).toMatch(/^smartscope_inference_seconds_bucket\{le="0\.1",role="zoom"\} \d+$/m);
    expect(text).toMatch(/^smartscope_frame_rate_hz [\d.]+$/m);
    expect(text).toMatch(/^smartscope_disk_free_bytes \d+$/m);
    // No mqtt.url in this config: the daemon starts no broker of its own, so its audit events wait in the outbox.
    expect(text).toMatch(/^smartscope_outbox_depth \d+$/m);
    expect(text).toMatch(/^smartscope_frames_dropped_total(\{.*\})? \d+$/m);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('hot-swaps to a model a technician installs, without stopping the frames', async () => {
    const r = runCli(['-c', config, 'model', 'install', join(dir, 'v2.tar')], { SUDO_USER: 'tech', SSH_CLIENT: '10.9.8.7 50000 22' });
    expect(r.status, r.stderr).toBe(0);
    await until('v1.1.0 serving', async () => (await model()) === 'tiny-seg@1.1.0');
    const f0 = Number(/^smartscope_frames_total (\d+)/m.exec(await getText(port, '/metrics'))![1]);
    await until('frames after the swap', async () => Number(/^smartscope_frames_total (\d+)/m.exec(await getText(port, '/metrics'))![1]) > f0 + 3);
    expect(await getText(port, '/metrics')).not.toMatch(/^smartscope_inference_errors_total\{role="zoom"\} [1-9]/m);
  });

  it('rolls back by itself when a new model degrades during its probation', async () => {
    // Let v1.1.0 pass its probation so its figures are the baseline.
    await until(
      'probation of 1.1.0 passed',
      async () => ((await getJson(port, '/healthz')).body.models as { zoom: { probation: boolean } }).zoom.probation === false,
    );
    const r = runCli(['-c', config, 'model', 'install', join(dir, 'blind.tar')], { SUDO_USER: 'tech', SSH_CLIENT: '10.9.8.7 50000 22' });
    expect(r.status, r.stderr).toBe(0);
    await until('2.0.0 serving', async () => (await model()) === 'tiny-seg@2.0.0');
    await until('rolled back to 1.1.0', async () => (await model()) === 'tiny-seg@1.1.0');
    const list = JSON.parse(runCli(['-c', config, 'model', 'list', '--json']).stdout) as {
      versions: Array<{ id: string; active: boolean; rejected: boolean }>;
    };
    expect(list.versions.find((v) => v.id === 'tiny-seg@2.0.0')).toMatchObject({ active: false, rejected: true });
    expect(list.versions.find((v) => v.id === 'tiny-seg@1.1.0')).toMatchObject({ active: true });
    expect(await getText(port, '/metrics')).toMatch(/^smartscope_model_rollbacks_total\{role="zoom"\} 1$/m);
    const rec = Records.open({ path: join(stateDir, 'records.db'), readonly: true });
    try {
      const audit = rec.recentAudit(100);
      const rb = audit.find((a) => a.action === 'model.rollback');
      expect(rb).toMatchObject({ via: 'daemon', origin: 'daemon', subject: 'tiny-seg@1.1.0', outcome: 'ok' });
      expect(String(rb!.details!.reason)).toMatch(
        /^automatic: 0\.00 detections per frame against the previous model's [\d.]+ \(ratio 0\.\d+, allowed 0\.25–4\)$/,
      );
      const install = audit.find((a) => a.action === 'model.activate' && a.subject === 'tiny-seg@2.0.0');
      expect(install).toMatchObject({ user: 'tech', origin: 'ssh 10.9.8.7', via: 'cli' });
    } finally {
      rec.close();
    }
  });

  it('stops cleanly on SIGTERM: STOPPING=1, exit code 0, JSON logs with one module per line', async () => {
    daemon.proc.kill('SIGTERM');
    const exit = await daemon.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    await until('STOPPING=1', () => receiver.states().some((m) => m.startsWith('STOPPING=1')));
    const lines = daemon.logLines();
    expect(lines.at(-1)).toMatchObject({ module: 'appliance', msg: 'stopped' });
    for (const l of lines) expect(typeof l.level === 'number' && typeof l.time === 'string' && typeof l.msg === 'string').toBe(true);
    const modules = new Set(lines.map((l) => l.module));
    expect([...modules].every((m) => typeof m === 'string')).toBe(true);
    for (const m of ['run', 'app', 'appliance', 'models']) expect(modules).toContain(m);
  });
});
