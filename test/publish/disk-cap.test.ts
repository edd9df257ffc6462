/**
 * The outbox disk cap seen from the plant: with the broker away and the cap reached, queued thumbnails go first (the
 * events say `dropped: true` and the images never appear), then the oldest events; alarms say so, with the count.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, subscriber, tempDir, until } from './fixtures.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto({ persistence: true });
});
afterAll(async () => {
  await broker.close();
});

describe('outbox disk cap', () => {
  it('drops thumbnails first, then the oldest events, and raises alarms with the counts', async () => {
    const dir = tempDir('cap-');
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    const sub = await subscriber(broker.url, [`${base}/events/+`, `${base}/thumbnails/+`], { clean: false, clientId: 'mes-cap' });
    const store = new FileStore({ dir, capBytes: 256 * 1024, segmentBytes: 16 * 1024 });
    const sink = await MqttEventSink.open({
      config: mqttConfig({ url: broker.url, outbox: { dir } }),
      device,
      clock: new RealClock(),
      logger: silentLogger(),
      store,
      softwareVersion: '0.1.0',
      lossAlarmIntervalMs: 1000,
    });
    try {
      await until(() => sink.health().connected, 20_000, 'connected');
      await broker.stop();
      await until(() => !sink.health().connected, 20_000, 'outage');
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(6000, 7), Buffer.from([0xff, 0xd9])]);
      const ids: string[] = [];
      for (let n = 0; sink.health().eventsLost === 0; n++) {
        const e = await sink.defect(defectInput(n), n < 30 ? { jpeg: Buffer.concat([jpeg, Buffer.from(String(n))]), widthPx: 64, heightPx: 64 } : undefined);
        ids.push(e.eventId);
        expect(n).toBeLessThan(5000);
      }
      for (let n = 0; n < 20; n++) ids.push((await sink.defect(defectInput(10_000 + n))).eventId);
      expect(sink.health().thumbnailsDropped).toBe(30);
      expect(store.stats().diskBytes).toBeLessThanOrEqual(256 * 1024);

      await broker.restart();
      await until(() => sink.health().connected && sink.health().pendingEvents === 0, 20_000, 'drained');
      await new Promise((r) => setTimeout(r, 1500)); // a rate-limited loss alarm still due
      await until(() => sink.health().pendingEvents === 0, 20_000, 'drained again');
      // Alarms are events too: appending them may push out more of the oldest events, so take the final count.
      const { eventsLost } = sink.health();
      const last = ids[ids.length - 1]!;
      await until(() => sub.json('/events/defect').some((e) => e.eventId === last), 20_000, 'newest event');
      await until(() => sub.json('/events/alarm').some((a) => a.code === 'outbox.events_lost'), 20_000, 'loss alarm');
      const defects = sub.json('/events/defect');
      const got = new Set(defects.map((e) => e.eventId));
      // The oldest went, the newest stayed, in order.
      expect(got.has(ids[0]!)).toBe(false);
      expect(ids.filter((id) => !got.has(id))).toEqual(ids.slice(0, eventsLost));
      expect(defects.map((e) => e.eventId)).toEqual(ids.slice(eventsLost));
      // Events whose thumbnail was dropped say so, and no such image was published.
      for (const e of defects.filter((x) => x.thumbnail)) {
        expect((e.thumbnail as { dropped?: boolean }).dropped).toBe(true);
        expect(sub.messages.some((m) => m.topic === (e.thumbnail as { topic: string }).topic)).toBe(false);
      }
      const alarms = sub.json('/events/alarm');
      // The thumbnails alarm was raised at the first drop; being old, it may itself have been lost later.
      // Once drained below half the cap, it is cleared (active: false).
      const thumbAlarms = alarms.filter((x) => x.code === 'outbox.thumbnails_dropped');
      for (const a of thumbAlarms) expect(a).toMatchObject({ severity: 'warning', active: a === thumbAlarms[thumbAlarms.length - 1] ? false : true });
      const lossAlarms = alarms.filter((a) => a.code === 'outbox.events_lost');
      expect(lossAlarms[0]).toMatchObject({ severity: 'critical', active: true, message: expect.stringContaining('queued events were lost (oldest first)') });
      expect(lossAlarms[lossAlarms.length - 1]!.details).toMatchObject({ thumbnailsDroppedTotal: 30 });
      // Loss alarms are at most one per interval (1 s here), each with the count since the last one.
      const reported = (): number =>
        sub
          .json('/events/alarm')
          .filter((a) => a.code === 'outbox.events_lost')
          .reduce((n, a) => n + (a.details as { lost: number }).lost, 0);
      await until(() => reported() === eventsLost, 20_000, `loss alarms adding up to ${eventsLost}`);
    } finally {
      await sink.close();
      await sub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
