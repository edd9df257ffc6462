/**
 * Every payload through a real mosquitto, on MQTT 5 and 3.1.1: what a subscriber receives validates against its JSON
 * Schema, images arrive before the events that reference them and match their SHA-256, the retained status follows
 * the connection (online, offline by last will, stopped on close).
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { payloadValidator, describeErrors, type PayloadName } from '../../src/publish/schemas/index.js';
import { renderThumbnail } from '../../src/publish/thumbnails.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, scanFinished, scanProgress, scanStarted, subscriber, tempDir, thumbnailSource, until } from './fixtures.js';

const schemaOf = (topic: string): PayloadName | undefined => {
  if (topic.endsWith('/events/defect')) return 'defect-event';
  if (topic.endsWith('/events/scan')) return 'scan-event';
  if (topic.endsWith('/events/alarm')) return 'alarm-event';
  if (topic.endsWith('/events/audit')) return 'audit-event';
  if (topic.endsWith('/status')) return 'status';
  if (topic.endsWith('/stats')) return 'stats';
  return undefined;
};

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker.close();
});

describe.each([5, 4] as const)('MQTT %i round trip through mosquitto', (protocolVersion) => {
  it('publishes every payload valid against its schema, images first, status online → offline (will) → stopped', async () => {
    const dir = tempDir('sink-');
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    const sub = await subscriber(broker.url, [`${base}/#`], { protocolVersion });
    const cfg = mqttConfig({ url: broker.url, protocolVersion, statsIntervalS: 0.2, outbox: { dir } });
    const sink = await MqttEventSink.open({
      config: cfg,
      device,
      clock: new SimClock(new Date('2026-11-25T10:00:00Z')),
      logger: silentLogger(),
      store: new FileStore({ dir, capBytes: 64 << 20 }),
      softwareVersion: '0.1.0',
    });
    try {
      await sink.state({ state: 'idle', queueLength: 0, models: { survey: 'survey-unet-1.2.0', zoom: 'zoom-unet-1.1.0' } });
      const started = await sink.scan(scanStarted);
      const d1 = await sink.defect(defectInput(1), thumbnailSource());
      const jpeg = (await renderThumbnail({ ...thumbnailSource(), box: { x: 100, y: 100, width: 20, height: 20 } })).jpeg;
      const d2 = await sink.defect(defectInput(2), { jpeg, widthPx: 256, heightPx: 256 });
      await sink.scan(scanProgress);
      await sink.alarm({ code: 'stage.limit_near', severity: 'warning', active: true, message: 'x axis within 1 mm of its limit', details: { axis: 'x' } });
      await sink.audit({ action: 'model.activated', actor: { kind: 'ssh', id: 'tech1' }, outcome: 'ok', details: { bundle: 'zoom-unet-1.1.0' } });
      const finished = await sink.scan(scanFinished, { jpeg, widthPx: 256, heightPx: 256 });
      await sink.state({ state: 'scanning', scanId: 'scan-0001', sampleId: 'S-42' });

      await until(() => sub.json('/events/scan').length === 3 && sub.json('/stats').length > 0, 20_000, 'scan events and stats');
      expect(await sink.drained(5000)).toBe(true);

      // Every JSON message validates against its schema.
      for (const m of sub.messages) {
        const schema = schemaOf(m.topic);
        if (!schema) continue;
        const v = payloadValidator(schema);
        const body = JSON.parse(m.payload.toString('utf8'));
        expect(v(body), `${m.topic}: ${describeErrors(v.errors)}`).toBe(true);
      }
      const events = sub.messages.filter((m) => m.topic.includes('/events/'));
      expect(events.map((m) => m.topic.slice(base.length + 1))).toEqual([
        'events/scan',
        'events/defect',
        'events/defect',
        'events/scan',
        'events/alarm',
        'events/audit',
        'events/scan',
      ]);
      const bodies = events.map((m) => JSON.parse(m.payload.toString('utf8')));
      expect(bodies.every((b) => b.historical === false)).toBe(true);
      expect(bodies.map((b) => b.eventId)).toEqual([
        started.eventId,
        d1.eventId,
        d2.eventId,
        expect.any(String),
        expect.any(String),
        expect.any(String),
        finished.eventId,
      ]);
      // UUIDv7 ids sort in production order.
      expect([...bodies.map((b) => b.eventId)].sort()).toEqual(bodies.map((b) => b.eventId));
      expect(bodies[1]).toMatchObject({ ...JSON.parse(JSON.stringify(defectInput(1))), device, schemaVersion: '1.0.0', ts: '2026-11-25T10:00:00.000Z' });

      // Each image arrives before the event referencing it, on its topic, with matching bytes and digest.
      for (const ref of [
        d1.thumbnail!,
        d2.thumbnail!,
        (finished as { summary: { reportImage: { id: string; topic: string; sha256: string; bytes: number } } }).summary.reportImage,
      ]) {
        const imgIndex = sub.messages.findIndex((m) => m.topic === ref.topic);
        const evIndex = sub.messages.findIndex((m) => m.topic.includes('/events/') && m.payload.includes(ref.topic));
        expect(imgIndex).toBeGreaterThanOrEqual(0);
        expect(imgIndex).toBeLessThan(evIndex);
        const bytes = sub.messages[imgIndex]!.payload;
        expect(bytes.length).toBe(ref.bytes);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(ref.sha256);
        expect(bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
        if (protocolVersion === 5) expect(sub.messages[imgIndex]!.packet.properties?.contentType).toBe('image/jpeg');
      }
      expect(d1.thumbnail!.topic).toBe(`${base}/thumbnails/${d1.thumbnail!.id}`);
      expect(sub.messages.some((m) => m.topic === `${base}/images/${d2.thumbnail!.id}`)).toBe(true);

      // Status: retained, online with the latest state.
      const statuses = sub.json('/status');
      expect(statuses[statuses.length - 1]).toMatchObject({ availability: 'online', state: 'scanning', scanId: 'scan-0001', softwareVersion: '0.1.0' });
      const retained = await subscriber(broker.url, [`${base}/status`], { protocolVersion });
      await until(() => retained.messages.length > 0, 15_000, 'retained status');
      expect(retained.messages[0]!.packet.retain).toBe(true);
      expect(JSON.parse(retained.messages[0]!.payload.toString())).toMatchObject({ availability: 'online', state: 'scanning' });

      // A dropped connection: the broker publishes the will (offline), the sink reconnects (online again).
      const n = sub.json('/status').length;
      (sink as unknown as { connection: { current: { stream: { destroy(): void } } } }).connection.current.stream.destroy();
      await until(
        () =>
          sub
            .json('/status')
            .slice(n)
            .some((s) => s.availability === 'offline'),
        20_000,
        'last will',
      );
      await until(
        () =>
          sub
            .json('/status')
            .slice(n)
            .some((s) => s.availability === 'online'),
        20_000,
        'back online',
      );
      const will = sub
        .json('/status')
        .slice(n)
        .find((s) => s.availability === 'offline')!;
      expect(payloadValidator('status')(will)).toBe(true);
      expect(will.state).toBe('unknown');
      await retained.close();
    } finally {
      await sink.close();
      // Wait for the end state itself (the last status is stopped), not for a stopped somewhere in the stream.
      await until(() => sub.json('/status').at(-1)?.availability === 'stopped', 60_000, 'stopped as the last status');
      await sub.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const statuses = sub.json('/status');
    expect(statuses[statuses.length - 1]!.availability).toBe('stopped');
  }, 120_000);
});

describe('events that do not match their schema', () => {
  it('are refused with the field named, and nothing is stored', async () => {
    const dir = tempDir('sink-bad-');
    const store = new FileStore({ dir, capBytes: 1 << 20 });
    const sink = await MqttEventSink.open({
      config: mqttConfig({ url: 'mqtt://127.0.0.1:1', outbox: { dir } }),
      device,
      clock: new SimClock(),
      logger: silentLogger(),
      store,
      softwareVersion: '0.1.0',
    });
    try {
      await expect(sink.defect({ ...defectInput(1), confidence: 1.5 })).rejects.toThrow('invalid defect event: confidence: must be <= 1');
      await expect(sink.defect({ ...defectInput(1), sizeUm: undefined as unknown as number })).rejects.toThrow(
        "invalid defect event: (top level): must have required property 'sizeUm'",
      );
      await expect(sink.defect({ ...defectInput(1), sizeMm: 3 } as never)).rejects.toThrow('invalid defect event: (top level): unknown field "sizeMm"');
      await expect(sink.defect(defectInput(1), { jpeg: Buffer.from('not a jpeg'), widthPx: 1, heightPx: 1 })).rejects.toThrow(
        'Expected JPEG bytes (starting FF D8) for image but received 10 bytes starting 6e6f',
      );
      await expect(sink.scan(scanProgress, { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), widthPx: 1, heightPx: 1 })).rejects.toThrow(
        'a report image belongs to a finished scan event, not to phase "progress"',
      );
      expect(store.stats().lastSeq).toBe(0);
    } finally {
      await sink.close(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
