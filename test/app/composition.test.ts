/**
 * The composition root decides twin or real, and nothing else does: the twin is built only where the config asks
 * for a twin device; real devices run on the system clock; a real device beside a simulated twin clock is refused
 * with the field named; the appliance never starts an embedded broker (without mqtt.url events stay in the outbox);
 * and a config problem found while `run` starts exits 78 (EX_CONFIG), which systemd does not restart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApplianceParts, createInstrument } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/kernel/validate.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { runCliAsync } from '../support/cli.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'smartscope-root-'));

describe('twin or real', () => {
  it('builds no twin and uses the system clock when every device is real (even with twin settings at defaults)', async () => {
    const cfg = parseConfig({ camera: { kind: 'v4l2' }, stage: { driver: 'grbl' }, scan: { pipeline: 'frame-loop' } });
    const { clock, twin } = await createInstrument(cfg);
    expect(twin).toBeNull();
    expect(clock.simulated).toBe(false);
    expect(Math.abs(clock.wallTime().getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('refuses a real device beside a simulated twin clock, naming twin.clock; accepts it with twin.clock real', async () => {
    const mixed = parseConfig({ camera: { kind: 'twin' }, stage: { driver: 'grbl' } });
    const err = await createInstrument(mixed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]).toMatchObject({ path: 'twin.clock', value: 'simulated' });
    expect((err as Error).message).toMatch(/stage\.driver "grbl" is real hardware and runs in real time/);
    const honest = await createInstrument(parseConfig({ camera: { kind: 'twin' }, stage: { driver: 'grbl' }, twin: { clock: 'real' } }));
    expect(honest.twin).not.toBeNull();
    expect(honest.clock.simulated).toBe(false);
  });

  it('builds the twin, on its simulated clock, when every device is the twin', async () => {
    const { clock, twin } = await createInstrument(parseConfig({}));
    expect(twin).not.toBeNull();
    expect(clock.simulated).toBe(true);
    expect(twin!.clock).toBe(clock);
  });
});

describe('events on the appliance', () => {
  it('never starts an embedded broker: without mqtt.url events stay in the outbox', async () => {
    const d = dir();
    const cfg = parseConfig({ appliance: { stateDir: join(d, 'state') }, mqtt: { outbox: { dir: join(d, 'outbox') } }, scan: { pipeline: 'frame-loop' } });
    const parts = await createApplianceParts(cfg, silentLogger());
    const sink = (await parts.events!()) as unknown as MqttEventSink;
    try {
      expect(sink.url).toBe('');
      await sink.alarm({ code: 'test.kept', severity: 'info', active: true, message: 'kept in the outbox' });
      expect(sink.health()).toMatchObject({ connected: false, pendingEvents: 1 });
      expect(sink.counters().connection).toMatchObject({ connects: 0, failedAttempts: 0 });
    } finally {
      await sink.close();
    }
  });
});

describe('smartscope run with a config problem found at start', () => {
  it('exits 78 (EX_CONFIG) when the mqtts CA file does not exist', async () => {
    const d = dir();
    const config = join(d, 'config.yaml');
    writeFileSync(
      config,
      [
        `appliance: { stateDir: ${join(d, 'state')} }`,
        'health: { enabled: false }',
        'scan: { pipeline: frame-loop }',
        `mqtt: { url: "mqtts://127.0.0.1:1", tls: { ca: ${join(d, 'no-such-ca.pem')} }, outbox: { dir: ${join(d, 'outbox')} } }`,
        '',
      ].join('\n'),
    );
    const r = await runCliAsync(['-c', config, 'run'], { NOTIFY_SOCKET: '' });
    expect(r.code, r.stderr.slice(-2000)).toBe(78);
    expect(r.stderr).toMatch(/mqtt\.tls\.ca/);
  }, 120_000);
});
