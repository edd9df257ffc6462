/**
 * Oversize packets never reach memory whole: the device announces an MQTT 5 Maximum Packet Size (mosquitto then
 * never sends it a larger packet), and with MQTT 3.1.1, where the broker cannot be told, the connection is closed at
 * the header of a packet over the limit — counted, then reconnected — and the next command is answered as usual.
 */
import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { PacketSizeScanner, maxIncomingPacketBytes } from '../../src/publish/mqtt/packet-guard.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { device, mqttConfig, subscriber, tempDir, until } from './fixtures.js';

const base = `smartscope/${device.site}/${device.line}/${device.id}`;
let broker: Mosquitto;
let dir: string;
beforeAll(async () => {
  broker = await startMosquitto();
  dir = tempDir('packet-size-');
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A PUBLISH packet's fixed header + topic, as a broker would frame it (QoS 0, no body beyond `payloadBytes`). */
function publishHeader(topic: string, payloadBytes: number): Buffer {
  const t = Buffer.from(topic);
  let remaining = 2 + t.length + payloadBytes;
  const len: number[] = [];
  do {
    let b = remaining % 128;
    remaining = Math.floor(remaining / 128);
    if (remaining > 0) b |= 0x80;
    len.push(b);
  } while (remaining > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.from([t.length >> 8, t.length & 0xff]), t]);
}

describe('packet size scanner', () => {
  it('passes packets under the limit across chunk boundaries and stops at the header of one over it', () => {
    const s = new PacketSizeScanner(1000);
    const small = Buffer.concat([publishHeader('a/b', 500), Buffer.alloc(500)]);
    // Fed one byte at a time, then whole: never tripped.
    for (const b of small) expect(s.feed(Buffer.from([b]))).toBeNull();
    expect(s.feed(Buffer.concat([small, small]))).toBeNull();
    // 268 MB announced: tripped on the header alone, before any payload byte.
    expect(s.feed(publishHeader('a/b', 268_435_000))).toEqual({ packetType: 3, bytes: 1 + 4 + 2 + 3 + 268_435_000 });
    const bad = new PacketSizeScanner(1000);
    expect(bad.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toMatchObject({ malformed: true });
  });
});

for (const protocolVersion of [5, 4] as const) {
  describe(`oversize commands over MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, () => {
    it('never reads the oversize packet whole, and keeps answering commands', async () => {
      const sink = await MqttEventSink.open({
        config: mqttConfig({ url: broker.url, protocolVersion, clientId: `oversize-${protocolVersion}`, commands: { maxPayloadBytes: 4096 } }),
        device,
        clock: new RealClock(),
        logger: silentLogger(),
        store: new MemoryStore(),
        softwareVersion: '0.1.0',
      });
      try {
        await until(() => sink.health().connected, 20_000, 'sink connected');
        const replies = await subscriber(broker.url, [`${base}/reply/#`], { protocolVersion: 4 });
        const hostile = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
        const limit = maxIncomingPacketBytes(4096);
        // 20 MB: far over the limit (the same path a 268 MB one takes, without the test machine holding 268 MB).
        await hostile.publishAsync(`${base}/cmd/request-status`, Buffer.alloc(20 << 20, 0x20), { qos: 1 });
        if (protocolVersion === 4) {
          // The broker could not be told: the connection is closed at the packet's header, then re-established (a
          // clean session: the broker drops the message).
          await until(
            () => sink.counters().connection.oversizeDropped === 1 && sink.counters().connection.connects >= 2 && sink.health().connected,
            30_000,
            'reconnected after the oversize packet',
          );
        }
        // Commands are subscribed again once the reconnected session is up: probe until one is answered.
        await until(
          () => {
            void hostile.publishAsync(`${base}/cmd/request-status`, JSON.stringify({ transaction: 'probe' }), { qos: 1 });
            return replies.json('/reply/request-status').some((r) => r.transaction === 'probe');
          },
          30_000,
          'commands answered',
        );

        // Just under the packet limit but over the payload limit: read and refused with too_large.
        await hostile.publishAsync(`${base}/cmd/request-status`, Buffer.alloc(limit - 200, 0x20), { qos: 1 });
        await hostile.publishAsync(`${base}/cmd/request-status`, JSON.stringify({ transaction: 'after' }), { qos: 1 });
        await until(() => replies.json('/reply/request-status').some((r) => r.transaction === 'after'), 30_000, 'reply after the oversize command');
        const c = sink.counters();
        // The packet within the limit was read and refused; the 20 MB one never was.
        const tooLarge = replies.json('/reply/request-status').filter((r) => (r.error as { code?: string } | undefined)?.code === 'too_large');
        expect(tooLarge.map((r) => (r.error as { message: string }).message)).toEqual([`payload of ${limit - 200} bytes exceeds the limit of 4096 bytes`]);
        if (protocolVersion === 5) {
          // The broker was told: it never sent the 20 MB packet; the connection stayed up.
          expect(c.connection.oversizeDropped).toBe(0);
          expect(c.connection.connects).toBe(1);
        } else {
          expect(c.connection.oversizeDropped).toBe(1);
        }
        await hostile.endAsync();
        await replies.close();
      } finally {
        await sink.close();
      }
    }, 60_000);
  });
}
