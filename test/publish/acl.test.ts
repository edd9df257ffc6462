/**
 * docs/mqtt-acl.conf in a real mosquitto: only the MES may publish commands; a dashboard user and the microscopes
 * themselves are refused (MQTT 5 reason code 0x87, not authorised); the microscope's events and replies flow.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, subscriber, tempDir, until } from './fixtures.js';

const base = `smartscope/${device.site}/${device.line}/${device.id}`;
let broker: Mosquitto;
let dir: string;
let sink: MqttEventSink;

beforeAll(async () => {
  dir = tempDir('acl-');
  const pw = join(dir, 'passwd');
  writeFileSync(pw, '');
  for (const [u, p] of [
    ['mes', 'mes-pw'],
    ['viewer', 'viewer-pw'],
    [device.id, 'scope-pw'],
    ['scope9', 'other-pw'],
  ])
    execFileSync('mosquitto_passwd', ['-b', pw, u!, p!]);
  broker = await startMosquitto({ passwordFile: pw, aclFile: resolve(import.meta.dirname, '../../docs/mqtt-acl.conf') });
  sink = await MqttEventSink.open({
    config: mqttConfig({ url: broker.url, username: device.id, password: { env: 'PW' } }, { PW: 'scope-pw' }),
    device,
    clock: new RealClock(),
    logger: silentLogger(),
    store: new MemoryStore(),
    softwareVersion: '0.1.0',
  });
  sink.onCommand('start-scan', () => ({ scanId: 'scan-9' }));
  await until(() => sink.health().connected, 20_000, 'microscope connected');
});
afterAll(async () => {
  await sink.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/mqtt-acl.conf', () => {
  it('lets the MES read events and send commands, with replies coming back', async () => {
    const mes = await subscriber(broker.url, [`${base}/events/defect`, 'mes/replies/#'], { username: 'mes', password: 'mes-pw' });
    const e = await sink.defect(defectInput(1));
    await until(() => mes.json('/events/defect').some((x) => x.eventId === e.eventId), 15_000, 'event at the MES');
    await mes.client.publishAsync(`${base}/cmd/start-scan`, '{}', {
      qos: 1,
      properties: { responseTopic: 'mes/replies/scope3', correlationData: Buffer.from('a') },
    });
    await until(() => mes.messages.some((m) => m.topic === 'mes/replies/scope3'), 15_000, 'reply at the MES');
    expect(JSON.parse(mes.messages.find((m) => m.topic === 'mes/replies/scope3')!.payload.toString())).toMatchObject({
      status: 'ok',
      data: { scanId: 'scan-9' },
    });
    await mes.close();
  });

  it('refuses commands from a dashboard user and from microscopes', async () => {
    const received = sink.counters().commands.received;
    for (const [username, password] of [
      ['viewer', 'viewer-pw'],
      ['scope9', 'other-pw'],
      [device.id, 'scope-pw'],
    ] as const) {
      const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username, password, clientId: `acl-${username}-${Math.random()}` });
      await expect(c.publishAsync(`${base}/cmd/start-scan`, '{}', { qos: 1 }), username).rejects.toMatchObject({ code: 0x87 });
      await c.endAsync();
    }
    // A microscope may not publish into another microscope's topics either.
    const other = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'scope9', password: 'other-pw' });
    await expect(other.publishAsync(`${base}/events/defect`, '{}', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await other.endAsync();
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.counters().commands.received).toBe(received);
  });
});
