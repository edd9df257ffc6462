/**
 * The MES contract, from the MES's side: a scripted MES client on a real mosquitto drives the device's event sink
 * (durable outbox, Sparkplug B edge node) and its scan service through the same command wiring the daemon uses
 * (mqttScanCommands), while a scan publishes events. It checks every message it receives against docs/asyncapi.yaml,
 * decodes Sparkplug B, follows the status state machine transition by transition, sends valid and hostile commands
 * (wrong scan, wrong types, unknown commands, reply-topic abuse, oversize, a burst), restarts the broker mid-scan,
 * and counts end to end: every event produced arrives, duplicates only with the same id.
 *
 * The scan itself is a stand-in for the engine that publishes through the real sink between the service's
 * checkpoints (the engine's own path through the sink is covered by test/scan/daemon-scan.test.ts).
 */
import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { createEventSink } from '../../src/publish/index.js';
import type { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import type { ScopeState } from '../../src/publish/payloads.js';
import { STATUS_TRANSITIONS } from '../../src/publish/status-machine.js';
import { ScanAborted, type ScanControl } from '../../src/scan/control.js';
import type { ScanResult } from '../../src/scan/engine.js';
import { mqttScanCommands } from '../../src/appliance/scan-pipeline.js';
import { parseRecipe } from '../../src/scan/recipe.js';
import type { ScanDeps } from '../../src/scan/run.js';
import { ScanService, type ServiceState } from '../../src/scan/service.js';
import { asyncapiChecker } from '../support/asyncapi.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, scanFinished, scanStarted, subscriber, tempDir, until } from './fixtures.js';

const base = `smartscope/${device.site}/${device.line}/${device.id}`;
let broker: Mosquitto;
let dir: string;
beforeAll(async () => {
  broker = await startMosquitto({ persistence: true });
  dir = tempDir('mes-conformance-');
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MES conformance', () => {
  it('holds the contract through valid and hostile commands and a broker restart mid-scan', async () => {
    const checker = asyncapiChecker();
    // The MES: a persistent session, so what the device sends while the MES reconnects after the restart waits.
    const mes = await subscriber(broker.url, ['smartscope/#', 'spBv1.0/#', 'mes/replies/#'], { clean: false, clientId: 'conformance-mes' });
    const problems: string[] = [];
    mes.client.on('message', (topic, payload) => {
      // What the device publishes; the requests on cmd/ are the hostile client's own.
      if (payload.length === 0 || topic.startsWith(`${base}/cmd/`)) return;
      try {
        checker.check(topic, payload);
      } catch (err) {
        problems.push((err as Error).message);
      }
    });

    const sink = (await createEventSink(
      { mqtt: mqttConfig({ url: broker.url, outbox: { dir }, commands: { maxPayloadBytes: 8192 }, sparkplug: { enabled: true, groupId: 'G1' } }) },
      { clock: new RealClock(), logger: silentLogger(), device, store: new FileStore({ dir, capBytes: 256 << 20 }), softwareVersion: '0.1.0' },
    )) as MqttEventSink;
    const produced: string[] = [];
    const released = new Set<string>();
    const recipe = parseRecipe({ id: 'polished-steel', version: '3', outline: { xUm: 0, yUm: 0, widthUm: 1000, heightUm: 1000 } }, 'test');
    const runner = async (_deps: ScanDeps, job: { scanId: string; sampleId: string }, control: ScanControl): Promise<ScanResult> => {
      control.set('running');
      await sink.scan({ ...scanStarted, scanId: job.scanId, sampleId: job.sampleId });
      let k = 0;
      let outcome: 'completed' | 'aborted' = 'completed';
      try {
        while (!released.has(job.scanId) && k < 5000) {
          await control.checkpoint();
          produced.push((await sink.defect({ ...defectInput(k++, job.scanId), sampleId: job.sampleId })).eventId);
          await new Promise((r) => setTimeout(r, 10));
        }
        control.set('finished');
      } catch (err) {
        if (!(err instanceof ScanAborted)) throw err;
        outcome = 'aborted';
        control.set('aborted', control.reason);
      }
      await sink.scan({ ...scanFinished, scanId: job.scanId, sampleId: job.sampleId, outcome });
      return {
        summary: { state: outcome === 'completed' ? 'finished' : 'aborted', pass: true, verdict: 'pass', confirmed: k, reasons: [] },
      } as unknown as ScanResult;
    };
    const service = new ScanService({ stateDir: dir, deps: () => ({}) as ScanDeps, recipe: () => recipe, logger: silentLogger(), runScan: runner });
    const off = mqttScanCommands(sink, service);
    service.on('device-state', (s: ServiceState) => void sink.state(s));
    service.start();
    await sink.state(service.deviceState());

    const requester = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 500 });
    const replies = new Map<string, Record<string, unknown>>();
    requester.on('message', (_t, payload, packet) => {
      const c = packet.properties?.correlationData?.toString();
      if (c) replies.set(c, JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await requester.subscribeAsync('mes/replies/conformance', { qos: 1 });
    let seq = 0;
    const ask = async (name: string, body: unknown, props: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
      const c = `r${seq++}`;
      await requester.publishAsync(`${base}/cmd/${name}`, typeof body === 'string' ? body : JSON.stringify(body), {
        qos: 1,
        properties: { responseTopic: 'mes/replies/conformance', correlationData: Buffer.from(c), ...props },
      });
      await until(() => replies.has(c), 20_000, `reply to ${name}`);
      return replies.get(c)!;
    };
    const status = (): Array<Record<string, unknown>> => mes.json('/status');
    const lastState = (): unknown => status().at(-1)?.state;

    try {
      await until(() => sink.health().connected && lastState() === 'idle', 20_000, 'device idle');
      // A valid request: queued, then scanning.
      const queued = await ask('enqueue-sample', { sampleId: 'S-1', lot: 'L-1', recipe: { id: 'polished-steel' } });
      expect(queued).toMatchObject({ status: 'ok', data: { sampleId: 'S-1' } });
      const scanId = (queued.data as { scanId: string }).scanId;
      await until(() => lastState() === 'scanning' && status().at(-1)!.scanId === scanId, 20_000, 'scanning');

      // Hostile: the wrong scan, wrong types, unknown commands, reply-topic abuse, oversize, a burst.
      expect(await ask('abort-scan', { scanId: 'scan-does-not-exist' })).toMatchObject({
        status: 'error',
        error: { code: 'failed', message: expect.stringContaining('is not the running scan') },
      });
      expect(await ask('pause-scan', { scanId: 5 })).toMatchObject({ status: 'error', error: { code: 'invalid' } });
      expect(await ask('enqueue-sample', { sampleId: 'S 2', recipe: { id: 'polished-steel' } })).toMatchObject({ status: 'error' });
      expect(await ask('self-destruct', {})).toMatchObject({ status: 'error', error: { code: 'unknown_command' } });
      expect(await ask('request-status', '{"a":')).toMatchObject({ status: 'error', error: { code: 'bad_json' } });
      const before = sink.counters().commands.replyTopicRefused;
      await requester.publishAsync(`${base}/cmd/abort-scan`, '{}', {
        qos: 1,
        properties: { responseTopic: `${base}/events/defect`, correlationData: Buffer.from('evil') },
      });
      await requester.publishAsync(`${base}/cmd/request-status`, Buffer.alloc(1 << 20, 0x20), { qos: 1 });
      await until(() => sink.counters().commands.replyTopicRefused === before + 1, 20_000, 'reply topic refused');
      const burst = await Promise.all(Array.from({ length: 200 }, () => ask('request-status', {})));
      // Every request of the burst is answered: run, or refused as busy beyond mqtt.commands.maxConcurrent.
      expect(burst.every((r) => r.status === 'ok' || (r.error as { code: string }).code === 'busy')).toBe(true);
      expect(burst.some((r) => r.status === 'ok')).toBe(true);
      expect(lastState()).toBe('scanning');

      // Valid control of the named scan.
      expect(await ask('pause-scan', { scanId })).toMatchObject({ status: 'ok', data: { state: 'paused' } });
      await until(() => lastState() === 'paused', 20_000, 'paused');
      expect(await ask('resume-scan', { scanId })).toMatchObject({ status: 'ok', data: { state: 'running' } });
      await until(() => lastState() === 'scanning', 20_000, 'scanning again');

      // The broker goes away mid-scan and comes back: the scan goes on, events wait in the outbox.
      await broker.stop();
      await until(() => !sink.health().connected, 20_000, 'outage noticed');
      const during = produced.length;
      await until(() => produced.length >= during + 20, 20_000, 'events produced during the outage');
      await broker.restart();
      await until(() => sink.health().connected, 30_000, 'reconnected');
      released.add(scanId);
      await until(() => lastState() === 'idle', 30_000, 'idle after the scan');
      const defects = mes.json('/events/defect');
      await until(() => new Set(mes.json('/events/defect').map((d) => d.eventId)).size >= produced.length, 30_000, 'every defect event');
      const ids = mes.json('/events/defect').map((d) => d.eventId as string);
      expect(new Set(ids)).toEqual(new Set(produced));
      // A duplicate carries the same id: sent again by the device (flagged historical) or redelivered by the broker
      // to the MES's session after its restart (the MQTT DUP flag).
      const seen = new Set<string>();
      for (const m of mes.messages.filter((x) => x.topic.endsWith('/events/defect'))) {
        const d = JSON.parse(m.payload.toString()) as { eventId: string; historical: boolean };
        if (seen.has(d.eventId)) expect(d.historical || m.packet.dup, `duplicate ${d.eventId}`).toBe(true);
        seen.add(d.eventId);
      }
      expect(defects.length).toBeGreaterThan(0);
      await until(() => mes.json('/events/scan').some((e) => e.phase === 'finished' && e.scanId === scanId), 20_000, 'finished scan event');

      // Sparkplug B: births and data decode.
      const spb = mes.messages.filter((m) => m.topic.startsWith('spBv1.0/G1/'));
      expect(spb.some((m) => m.topic.includes('/NBIRTH/'))).toBe(true);
      for (const m of spb) expect(sparkplugPayload.get('spBv1.0')!.decodePayload(m.payload).timestamp).toBeDefined();
    } finally {
      off.forEach((f) => f());
      await service.stop();
      await sink.close();
      await requester.endAsync();
    }
    await until(() => status().at(-1)?.availability === 'stopped', 20_000, 'stopped');
    await mes.close();

    // Every payload matched the AsyncAPI document.
    expect(problems).toEqual([]);
    // The status followed the state machine, transition by transition (the will's offline/unknown aside).
    const states = status()
      .filter((s) => s.availability !== 'offline')
      .map((s) => s.state as ScopeState);
    const changes = states.filter((s, i) => s !== states[i - 1]);
    for (let i = 1; i < changes.length; i++) expect(STATUS_TRANSITIONS[changes[i - 1]!], `${changes[i - 1]} → ${changes[i]}`).toContain(changes[i]);
    expect(changes.at(-1)).toBe('stopped');
    expect(changes).toContain('paused');
  }, 240_000);
});
