/**
 * The Sparkplug B 3.0 edge node against mosquitto: births wait for the primary host's STATE, NBIRTH seq 0 with the
 * bdSeq of the CONNECT's NDEATH will, consecutive seq across DBIRTH/DDATA, a new DBIRTH when a defect class appears,
 * Rebirth on NCMD, NDEATH + reconnect when the host goes offline, the will on a lost connection, DDEATH/NDEATH on a
 * clean stop, and bdSeq kept across restarts.
 */
import { rmSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { createEventSink } from '../../src/publish/index.js';
import type { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, scanStarted, tempDir, until } from './fixtures.js';

const codec = sparkplugPayload.get('spBv1.0')!;
interface Msg {
  type: string;
  topic: string;
  seq?: number;
  metrics: Array<{ name?: string; alias?: number; value: unknown; type: string }>;
}

let broker: Mosquitto;
let host: MqttClient;
const msgs: Msg[] = [];
const num = (v: unknown): unknown => (v !== null && typeof v === 'object' && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : v);

beforeAll(async () => {
  broker = await startMosquitto();
  host = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'scada-host' });
  host.on('message', (topic, payload) => {
    if (topic.startsWith('spBv1.0/STATE/')) return;
    const p = codec.decodePayload(payload);
    msgs.push({
      type: topic.split('/')[2]!,
      topic,
      ...(p.seq !== undefined && p.seq !== null ? { seq: num(p.seq) as number } : {}),
      metrics: (p.metrics ?? []).map((m) => ({
        ...(m.name ? { name: m.name } : {}),
        ...(m.alias !== undefined && m.alias !== null ? { alias: num(m.alias) as number } : {}),
        value: num(m.value),
        type: m.type,
      })),
    });
  });
  await host.subscribeAsync('spBv1.0/G1/#', { qos: 1 });
});
afterAll(async () => {
  await host.endAsync();
  await broker.close();
});

const hostState = (online: boolean, timestamp: number): Promise<unknown> =>
  host.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
const metric = (m: Msg, name: string): unknown => m.metrics.find((x) => x.name === name)?.value;
const of = (type: string): Msg[] => msgs.filter((m) => m.type === type);

async function openSink(dir: string): Promise<MqttEventSink> {
  const cfg = mqttConfig({ url: broker.url, outbox: { dir }, sparkplug: { enabled: true, groupId: 'G1', primaryHostId: 'scada' } });
  return createEventSink({ mqtt: cfg }, { clock: new RealClock(), logger: silentLogger(), device, store: new MemoryStore(), softwareVersion: '0.1.0' });
}

describe('Sparkplug B edge node', () => {
  it('follows the 3.0 session rules', async () => {
    const dir = tempDir('spb-');
    await hostState(false, 1);
    let sink = await openSink(dir);
    try {
      // No birth while the primary host is offline.
      await new Promise((r) => setTimeout(r, 500));
      expect(of('NBIRTH')).toEqual([]);
      await hostState(true, 2);
      await until(() => of('DBIRTH').length === 1, 20_000, 'NBIRTH and DBIRTH');
      const nbirth = of('NBIRTH')[0]!;
      expect(nbirth.topic).toBe('spBv1.0/G1/NBIRTH/lineA-scope3');
      expect(nbirth.seq).toBe(0);
      const bdSeq = metric(nbirth, 'bdSeq') as number;
      expect(metric(nbirth, 'Node Control/Rebirth')).toBe(false);
      expect(metric(nbirth, 'Properties/Software Version')).toBe('0.1.0');
      const dbirth = of('DBIRTH')[0]!;
      expect(dbirth.topic).toBe('spBv1.0/G1/DBIRTH/lineA-scope3/inspection');
      expect(dbirth.seq).toBe(1);
      expect(dbirth.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['Scan/State', 'Defects/Total', 'Model/Survey', 'Model/Zoom']));

      // Data: state and scan in DDATA by alias; a new defect class brings a DBIRTH declaring it.
      await sink.state({ state: 'scanning', scanId: 'scan-0001', sampleId: 'S-42' });
      await until(() => of('DDATA').length === 1, 15_000, 'DDATA');
      expect(of('DDATA')[0]!.seq).toBe(2);
      expect(of('DDATA')[0]!.metrics.every((m) => m.name === undefined && typeof m.alias === 'number')).toBe(true);
      await sink.scan(scanStarted);
      await sink.defect(defectInput(0)); // scratch: new class
      await until(() => of('DBIRTH').length === 2, 15_000, 'DBIRTH for the new class');
      const db2 = of('DBIRTH')[1]!;
      expect(metric(db2, 'Defects/By Class/scratch')).toBe(1);
      expect(metric(db2, 'Defects/Total')).toBe(1);
      expect(metric(db2, 'Model/Zoom')).toBe('zoom-unet-1.1.0');
      await sink.defect(defectInput(4)); // scratch again: plain DDATA
      await until(() => of('DDATA').some((m) => m.metrics.some((x) => x.alias === 21 && x.value === 2)), 15_000, 'DDATA with 2 defects');
      // seq runs on without gaps from the NBIRTH.
      const since = msgs.slice(msgs.indexOf(nbirth));
      expect(since.map((m) => m.seq)).toEqual(since.map((_, i) => i));

      // Rebirth on request: NBIRTH seq 0 with the same bdSeq, then DBIRTH.
      await host.publishAsync(
        'spBv1.0/G1/NCMD/lineA-scope3',
        Buffer.from(codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] })),
        { qos: 1 },
      );
      await until(() => of('NBIRTH').length === 2 && of('DBIRTH').length === 3, 15_000, 'rebirth');
      expect(of('NBIRTH')[1]!.seq).toBe(0);
      expect(metric(of('NBIRTH')[1]!, 'bdSeq')).toBe(bdSeq);
      expect(of('DBIRTH')[2]!.seq).toBe(1);

      // Primary host offline (newer timestamp): NDEATH with the session's bdSeq, then a new session that waits.
      await hostState(false, 3);
      await until(() => of('NDEATH').length === 1, 15_000, 'NDEATH');
      expect(metric(of('NDEATH')[0]!, 'bdSeq')).toBe(bdSeq);
      await new Promise((r) => setTimeout(r, 800));
      expect(of('NBIRTH').length).toBe(2);
      // An older STATE must not count.
      await hostState(true, 2);
      await new Promise((r) => setTimeout(r, 500));
      expect(of('NBIRTH').length).toBe(2);
      await hostState(true, 4);
      await until(() => of('NBIRTH').length === 3, 20_000, 'birth after the host is back');
      const bdSeq2 = metric(of('NBIRTH')[2]!, 'bdSeq') as number;
      expect(bdSeq2).toBe((bdSeq + 1) % 256);

      // A lost connection: the broker publishes the will, an NDEATH with the same bdSeq as that session's NBIRTH.
      const spConn = (sink as unknown as { opts: { sparkplug: { connection: { current: { stream: { destroy(): void } } } } } }).opts.sparkplug.connection;
      spConn.current.stream.destroy();
      await until(() => of('NDEATH').length === 2, 20_000, 'NDEATH will');
      expect(metric(of('NDEATH')[1]!, 'bdSeq')).toBe(bdSeq2);
      await until(() => of('NBIRTH').length === 4, 20_000, 'birth after reconnecting');
      const bdSeq3 = metric(of('NBIRTH')[3]!, 'bdSeq') as number;
      expect(bdSeq3).toBe((bdSeq2 + 1) % 256);

      // Clean stop: DDEATH, then NDEATH.
      await sink.close();
      await until(() => of('NDEATH').length === 3 && of('DDEATH').length === 1, 15_000, 'DDEATH and NDEATH on stop');
      expect(metric(of('NDEATH')[2]!, 'bdSeq')).toBe(bdSeq3);

      // bdSeq continues across a restart of the process.
      sink = await openSink(dir);
      await until(() => of('NBIRTH').length === 5, 20_000, 'birth after restart');
      expect(metric(of('NBIRTH')[4]!, 'bdSeq')).toBe((bdSeq3 + 1) % 256);
    } finally {
      await sink.close();
      await host.publishAsync('spBv1.0/STATE/scada', '', { qos: 1, retain: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
