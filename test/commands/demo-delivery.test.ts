/**
 * `smartscope demo` loses no event: with the broker down it scans, waits for delivery as long as it was told, then
 * exits 75 (EX_TEMPFAIL) saying how many events are still queued — and keeps them. The next run, with the broker
 * back, delivers them before its own: an MES subscriber on a real mosquitto receives every event of both runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliAsync } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { freePort, startMosquitto, type Mosquitto } from '../support/mosquitto.js';

interface DemoJson {
  results: Array<{ sampleId: string; summary: { scanId: string; state: string; confirmed: number } }>;
  mqtt: { defectEventsPublished: number; pendingEvents: number; outboxDir: string };
}

let broker: Mosquitto | null = null;
let mes: mqtt.MqttClient | null = null;

afterAll(async () => {
  await mes?.endAsync(true);
  await broker?.stop();
});

const lastJson = (stdout: string): DemoJson => JSON.parse(stdout.trim().split('\n').at(-1)!) as DemoJson;

describe('demo event delivery', () => {
  it('exits 75 with the number of queued events while the broker is down, keeps them, and delivers them on the next run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-demo-delivery-'));
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    // A frame may take long to render on a busy machine: the twin camera's real-time limit is raised.
    writeFileSync(config, `mqtt: { url: "mqtt://127.0.0.1:${port}", reconnectMaxMs: 1000 }\ncamera: { grabTimeoutMs: 120000 }\n`);
    const stateDir = join(dir, 'state');
    const demo = (seed: number, drainS: number) =>
      runCliAsync([
        '-c',
        config,
        'demo',
        '--samples',
        '1',
        '--size-mm',
        '1',
        '--seed',
        String(seed),
        '--density',
        '0.002',
        '--drain-timeout-s',
        String(drainS),
        '--state-dir',
        stateDir,
        '--json',
      ]);

    const t0 = Date.now();
    const down = await demo(1, 1);
    process.stderr.write(`demo with the broker down: ${Math.round((Date.now() - t0) / 1000)} s\n`);
    expect(down.code, down.stderr.slice(-3000)).toBe(75);
    const first = lastJson(down.stdout);
    expect(first.results[0]!.summary.state).toBe('finished');
    // The defects, the scan events and the audit/alarm events of the run: at least the defects and started/finished.
    expect(first.mqtt.pendingEvents).toBeGreaterThanOrEqual(first.mqtt.defectEventsPublished + 2);
    expect(down.stderr).toContain(`${first.mqtt.pendingEvents} event(s) are still queued in ${join(stateDir, 'outbox')}`);

    broker = await startMosquitto({ port });
    const defects = new Map<string, number>();
    const finished = new Set<string>();
    mes = await mqtt.connectAsync(broker.url, { clientId: 'demo-delivery-mes' });
    mes.on('message', (topic, payload) => {
      // Thumbnails arrive on their own (binary) topics: only the JSON event topics are read.
      if (!topic.endsWith('/events/defect') && !topic.endsWith('/events/scan')) return;
      const m = JSON.parse(payload.toString()) as { scanId?: string; phase?: string };
      if (topic.endsWith('/events/defect')) defects.set(m.scanId!, (defects.get(m.scanId!) ?? 0) + 1);
      if (topic.endsWith('/events/scan') && m.phase === 'finished') finished.add(m.scanId!);
    });
    await mes.subscribeAsync('smartscope/#', { qos: 1 });

    const up = await demo(2, 120);
    expect(up.code, up.stderr.slice(-3000)).toBe(0);
    const second = lastJson(up.stdout);
    expect(second.mqtt.pendingEvents).toBe(0);
    const scan1 = first.results[0]!.summary.scanId;
    const scan2 = second.results[0]!.summary.scanId;
    await until('both scans reached the MES', () => (finished.has(scan1) && finished.has(scan2) ? true : null), 30_000);
    expect(defects.get(scan1) ?? 0).toBe(first.mqtt.defectEventsPublished);
    expect(defects.get(scan2) ?? 0).toBe(second.mqtt.defectEventsPublished);
  }, 1_200_000);
});
