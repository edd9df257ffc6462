/**
 * Broker outage in the middle of a stream of defect events (with thumbnails) paced at 40 events/s: mosquitto is
 * stopped until 80 events have been produced without it, then restarted on the same port. Nothing may be lost, the
 * order must hold, and what was produced while the broker was away arrives flagged historical. (The outage is
 * measured in events, not seconds, so a loaded machine changes how long it takes, not what it checks.)
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { renderThumbnail } from '../../src/publish/thumbnails.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, subscriber, tempDir, thumbnailSource, until } from './fixtures.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto({ persistence: true });
});
afterAll(async () => {
  await broker.close();
});

describe('broker outage mid-stream', () => {
  it('loses nothing, keeps the order, and flags what was produced offline as historical', async () => {
    const dir = tempDir('outage-');
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    // The MES side keeps a persistent session, so what the sink sends right after the restart waits for it.
    const sub = await subscriber(broker.url, [`${base}/events/defect`, `${base}/thumbnails/+`], { clean: false, clientId: 'mes-outage', reconnectPeriod: 100 });
    const cfg = mqttConfig({ url: broker.url, outbox: { dir } });
    const sink = await MqttEventSink.open({
      config: cfg,
      device,
      clock: new RealClock(),
      logger: silentLogger(),
      store: new FileStore({ dir, capBytes: 64 << 20 }),
      softwareVersion: '0.1.0',
    });
    const jpeg = (await renderThumbnail(thumbnailSource())).jpeg;
    const produced: Array<{ id: string; n: number; connected: boolean; offline: boolean }> = [];
    let stop = false;
    const t0 = performance.now();
    const producer = (async () => {
      for (let n = 0; !stop; n++) {
        const connected = sink.health().connected;
        const e = await sink.defect(
          defectInput(n),
          n % 4 === 0 ? { jpeg: Buffer.concat([jpeg, Buffer.from([n & 255, n >> 8])]), widthPx: 256, heightPx: 256 } : undefined,
        );
        const after = sink.health().connected;
        // Appended entirely while the sink had no connection (not merely racing the reconnection).
        produced.push({ id: e.eventId, n, connected: connected && after, offline: !connected && !after });
        // Paced by schedule (event n is due at n × 25 ms), never faster; a late event is not waited for.
        const wait = t0 + (n + 1) * 25 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    let atStop = 0;
    try {
      await until(() => sink.health().connected, 20_000, 'connection');
      const atConnect = produced.length;
      await until(() => produced.length >= atConnect + 40, 60_000, '40 events online');
      await broker.stop();
      await until(() => !sink.health().connected, 20_000, 'the sink to notice the outage');
      atStop = produced.length;
      await until(() => produced.length >= atStop + 80, 60_000, '80 events during the outage');
      const duringOutage = produced.length - atStop;
      await broker.restart();
      await until(() => sink.health().connected, 20_000, 'reconnection');
      await new Promise((r) => setTimeout(r, 1500));
      stop = true;
      await producer;

      await until(() => new Set(sub.json('/events/defect').map((e) => e.eventId)).size >= produced.length, 30_000, 'every event');
      const received = sub.json('/events/defect');
      const ids = received.map((e) => e.eventId as string);
      // Zero lost.
      expect(new Set(ids)).toEqual(new Set(produced.map((p) => p.id)));
      // Order kept: first deliveries come in production order.
      const firstSeen = ids.filter((id, i) => ids.indexOf(id) === i);
      expect(firstSeen).toEqual(produced.map((p) => p.id));
      // Duplicates (re-sent after the outage) are the same event.
      const byId = new Map<string, Record<string, unknown>>();
      for (const e of received) {
        const { historical: _h, ...rest } = e;
        const prev = byId.get(e.eventId as string);
        if (prev) expect(rest).toEqual(prev);
        else byId.set(e.eventId as string, rest);
      }
      // Produced while the broker was away → historical on every copy; produced online → live on first delivery.
      const offline = produced.filter((p) => p.offline);
      expect(offline.length).toBeGreaterThanOrEqual(duringOutage - 2);
      for (const p of offline) expect(received.filter((e) => e.eventId === p.id).every((e) => e.historical === true)).toBe(true);
      const live = produced.slice(atConnect, atStop - 10).filter((p) => p.connected);
      expect(live.length).toBeGreaterThan(20);
      for (const p of live) expect(received.find((e) => e.eventId === p.id)!.historical).toBe(false);
      // Every referenced thumbnail arrived before its event's first delivery.
      for (const e of received.filter((x) => x.thumbnail)) {
        const t = (e.thumbnail as { topic: string }).topic;
        const img = sub.messages.findIndex((m) => m.topic === t);
        const ev = sub.messages.findIndex((m) => m.topic.endsWith('/events/defect') && m.payload.includes(e.eventId as string));
        expect(img).toBeGreaterThanOrEqual(0);
        expect(img).toBeLessThan(ev);
      }
      expect(sink.health()).toMatchObject({ eventsLost: 0, thumbnailsDropped: 0 });
    } finally {
      stop = true;
      await producer.catch(() => undefined);
      await sink.close();
      await sub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
