/**
 * The retained status follows the device state machine (src/publish/status-machine.ts) on a real mosquitto, as an
 * MES that dispatches on `state` sees it: every transition is published, in order, retained; the stopped status after
 * a clean stop says `stopped`; `ts` moves with real time even when the instrument's clock stands still; and the
 * appliance itself goes starting → idle once ready and stopping → stopped on a clean stop.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../src/bundles/model-slot.js';
import { createApplianceParts } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { Appliance, type Pipeline, type PipelineContext } from '../../src/appliance/appliance.js';
import { SimClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Notifier } from '../../src/ops/notifier.js';
import { createEventSink } from '../../src/publish/index.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import type { ScopeState } from '../../src/publish/payloads.js';
import { STATUS_TRANSITIONS } from '../../src/publish/status-machine.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { device, mqttConfig, subscriber, until } from './fixtures.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker.close();
});

const statusTopic = `smartscope/${device.site}/${device.line}/${device.id}/status`;

describe('status state machine on the broker', () => {
  it('publishes every transition in order, counts one the machine does not allow, and ends with state stopped', async () => {
    const mes = await subscriber(broker.url, [statusTopic]);
    // The instrument's clock stands still (a simulated clock with nothing running): the status must not.
    const frozen = new SimClock(new Date('2026-01-01T00:00:00Z'));
    const sink = await createEventSink({ mqtt: mqttConfig({ url: broker.url }) }, { clock: frozen, logger: silentLogger(), device, store: new MemoryStore() });
    await until(() => mes.json('/status').some((s) => s.availability === 'online'), 20_000, 'online status');
    const path: ScopeState[] = ['idle', 'scanning', 'paused', 'scanning', 'faulted', 'scanning', 'aborting', 'idle', 'scanning', 'idle', 'stopping'];
    for (const [i, st] of path.entries()) {
      const prev = i === 0 ? 'starting' : path[i - 1]!;
      expect(STATUS_TRANSITIONS[prev], `${prev} → ${st}`).toContain(st);
      await sink.state({ state: st, ...(st !== 'idle' && st !== 'stopping' ? { scanId: 'scan-1' } : {}) });
      await until(() => mes.json('/status').at(-1)?.state === st, 20_000, `status ${st}`);
    }
    expect(sink.statusCounters).toEqual({ transitions: path.length, illegalTransitions: 0 });
    await sink.close();
    await until(() => mes.json('/status').at(-1)?.availability === 'stopped', 20_000, 'stopped status');
    const seen = mes.json('/status').map((s) => s.state);
    expect(seen.filter((s, i) => s !== seen[i - 1])).toEqual(['starting', ...path, 'stopped']);
    const last = mes.json('/status').at(-1)!;
    expect(last).toMatchObject({ availability: 'stopped', state: 'stopped' });
    expect(Date.parse(last.ts as string)).toBeGreaterThan(Date.parse('2026-06-01T00:00:00Z'));
    await mes.close();

    // A late subscriber gets the retained last word.
    const late = await subscriber(broker.url, [statusTopic]);
    await until(() => late.json('/status').length > 0, 20_000, 'retained status');
    expect(late.json('/status')[0]).toMatchObject({ availability: 'stopped', state: 'stopped' });
    await late.close();
  });

  it('counts a change the machine does not allow (and still publishes it: the status says what is true)', async () => {
    const sink = await createEventSink(
      { mqtt: mqttConfig({ url: broker.url, clientId: 'illegal-test' }) },
      { clock: new SimClock(), logger: silentLogger(), device: { ...device, id: 'scope4' }, store: new MemoryStore() },
    );
    await sink.state({ state: 'paused' }); // starting → paused: not a transition of the machine
    expect(sink.statusCounters.illegalTransitions).toBe(1);
    await sink.close();
  });

  it('the appliance reports starting, then idle once ready, the pipeline’s states, then stopping and stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-status-'));
    const config = parseConfig({
      device: { ...device, id: 'scope5' },
      appliance: { stateDir: join(dir, 'state') },
      health: { enabled: false },
      models: { trustedKeysDir: join(dir, 'keys') },
      scan: { pipeline: 'frame-loop' },
      mqtt: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 400, statsIntervalS: 0, outbox: { dir: join(dir, 'outbox') } },
      twin: { sensor: { widthPx: 256, heightPx: 256 } },
    });
    const topic = `smartscope/${device.site}/${device.line}/scope5/status`;
    const mes = await subscriber(broker.url, [topic]);
    const parts = await createApplianceParts(config, silentLogger());
    let ctxOf: PipelineContext<LoadedModel> | null = null;
    // The pipeline under the lifecycle: reports what the scan service would, when the test says so.
    const pipeline: Pipeline<LoadedModel> = {
      requiredRoles: [],
      start: async (ctx) => {
        ctxOf = ctx;
        ctx.status({ state: 'idle', queueLength: 0 });
      },
      stop: async () => {
        ctxOf?.status({ state: 'aborting', scanId: 'scan-9', message: 'appliance stopping' });
      },
    };
    const notifier: Notifier = { notify: async () => undefined, flush: async () => undefined } as unknown as Notifier;
    const app = new Appliance(config, { ...parts, pipeline: () => pipeline }, silentLogger(), notifier, {});
    await app.start();
    await until(() => mes.json('/status').at(-1)?.state === 'idle', 20_000, 'idle after ready');
    ctxOf!.status({ state: 'scanning', scanId: 'scan-9', sampleId: 'S-9', queueLength: 2 });
    await until(() => mes.json('/status').at(-1)?.state === 'scanning', 20_000, 'scanning');
    expect(mes.json('/status').at(-1)).toMatchObject({ scanId: 'scan-9', sampleId: 'S-9', queueLength: 2, availability: 'online' });
    await app.stop('test');
    await until(() => mes.json('/status').at(-1)?.state === 'stopped', 20_000, 'stopped');
    const seen = mes.json('/status').map((s) => s.state);
    // The pipeline's "aborting" while the appliance stops is not the device's state: it is stopping. (Whether the
    // broker saw "starting" depends on whether the connection came up before the appliance was ready.)
    const changes = seen.filter((s, i) => s !== seen[i - 1]);
    expect(changes[0] === 'starting' ? changes.slice(1) : changes).toEqual(['idle', 'scanning', 'stopping', 'stopped']);
    await mes.close();
  });
});
