import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { SimClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { createEventSink } from '../../src/publish/index.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { defectInput, device, subscriber, tempDir, until } from './fixtures.js';

describe('config section mqtt', () => {
  it('fills defaults', () => {
    const c = parseConfig({}).mqtt as unknown as Record<string, unknown>;
    expect(c).toMatchObject({
      protocolVersion: 5,
      topicPrefix: 'smartscope',
      keepaliveS: 30,
      outbox: { dir: '/var/lib/smartscope/outbox', maxDiskMiB: 512, inflight: 64 },
      statsIntervalS: 60,
      thumbnails: { maxSidePx: 256, maxBytes: 65536 },
      commands: { enabled: true },
      sparkplug: { enabled: false, groupId: 'smartscope', deviceId: 'inspection' },
    });
    expect(c.url).toBeUndefined();
  });

  it('names the field, the value and what was expected', () => {
    expect(() => parseConfig({ mqtt: { protocolVersion: 3 } })).toThrow(
      '  - mqtt.protocolVersion: 3 — expected one of 4, 5 (MQTT protocol version: 5, or 4 for MQTT 3',
    );
    expect(() => parseConfig({ mqtt: { url: 'http://broker' } })).toThrow(
      '  - mqtt.url: "http://broker" — expected a string matching ^(mqtt|mqtts|tcp|tls|ssl)://[^\\s]+$ (Broker URL',
    );
    expect(() => parseConfig({ mqtt: { outbox: { maxDiskMiB: 0 } } })).toThrow('  - mqtt.outbox.maxDiskMiB: 0 — expected a number >= 1 MiB');
    expect(() => parseConfig({ mqtt: { tls: { ca: '/x', pem: 1 } } })).toThrow(
      '  - mqtt.tls.pem: 1 — expected no such setting here (unknown key "pem"; allowed: ca, cert, key, rejectUnauthorized, servername)',
    );
    expect(() => parseConfig({ mqtt: { topicPrefix: 'a/#' } })).toThrow(
      '  - mqtt.topicPrefix: "a/#" — expected a string matching ^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$',
    );
  });
});

describe('createEventSink without a broker URL', () => {
  it('starts the embedded demo broker and stops it with the sink', async () => {
    const dir = tempDir('demo-');
    const cfg = parseConfig({ device, mqtt: { outbox: { dir }, statsIntervalS: 0 } }).mqtt as Parameters<typeof createEventSink>[0]['mqtt'];
    const sink = await createEventSink(
      { mqtt: cfg },
      { clock: new SimClock(), logger: silentLogger(), device, store: new MemoryStore(), softwareVersion: '0.1.0' },
    );
    expect(sink.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const sub = await subscriber(sink.url, ['smartscope/#'], { reconnectPeriod: 0, protocolVersion: 4 });
    await until(() => sink.health().connected, 15_000, 'connected to the embedded broker');
    const e = await sink.defect(defectInput(1));
    await until(() => sub.json('/events/defect').some((x) => x.eventId === e.eventId), 15_000, 'event through aedes');
    await sub.close();
    await sink.close();
    await expect(subscriber(sink.url, ['#'], { reconnectPeriod: 0, connectTimeout: 1000, protocolVersion: 4 })).rejects.toThrow(/ECONNREFUSED/);
    rmSync(dir, { recursive: true, force: true });
  });
});
