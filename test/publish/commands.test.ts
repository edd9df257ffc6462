/**
 * Commands on cmd/<name> through mosquitto: MQTT 5 request/response (response topic + correlation data), MQTT 3.1.1
 * replies on reply/<name> with the transaction echoed, every kind of refusal with its exact message, and 10,000
 * fuzzed requests that are each answered and counted without taking the process down.
 */
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { createLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { payloadValidator } from '../../src/publish/schemas/index.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, subscriber, tempDir, until } from './fixtures.js';

const base = `smartscope/${device.site}/${device.line}/${device.id}`;
let broker: Mosquitto;
let sink: MqttEventSink;
let dir: string;
let logText = '';
const replyValid = payloadValidator('command-reply');

beforeAll(async () => {
  broker = await startMosquitto();
  dir = tempDir('cmd-');
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => ((logText += c.toString()), cb()) }) });
  sink = await MqttEventSink.open({
    config: mqttConfig({ url: broker.url, outbox: { dir }, commands: { timeoutMs: 300, maxPayloadBytes: 4096 } }),
    device,
    clock: new RealClock(),
    logger,
    store: new FileStore({ dir, capBytes: 64 << 20 }),
    softwareVersion: '0.1.0',
  });
  sink.onCommand('start-scan', (req) => ({ scanId: `scan-for-${req.sampleId ?? 'next'}` }));
  sink.onCommand('enqueue-sample', (req) => ({ position: 1, sampleId: req.sampleId }));
  sink.onCommand('abort-scan', () => {
    throw new Error('no scan is running');
  });
  sink.onCommand('pause-scan', () => new Promise(() => undefined));
  await until(() => sink.health().connected, 20_000, 'sink connected');
});
afterAll(async () => {
  await sink.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function requester(
  protocolVersion: 4 | 5,
): Promise<{ client: MqttClient; replies: Array<{ topic: string; body: Record<string, unknown>; correlation?: string }> }> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion, reconnectPeriod: 0 });
  const replies: Array<{ topic: string; body: Record<string, unknown>; correlation?: string }> = [];
  client.on('message', (topic, payload, packet) => {
    const r: { topic: string; body: Record<string, unknown>; correlation?: string } = { topic, body: JSON.parse(payload.toString()) };
    if (packet.properties?.correlationData) r.correlation = packet.properties.correlationData.toString();
    replies.push(r);
  });
  await client.subscribeAsync(['mes/replies/#', `${base}/reply/+`], { qos: 1 });
  return { client, replies };
}

describe('commands over MQTT 5', () => {
  it('answers on the response topic with the correlation data, and audits what ran', async () => {
    const { client, replies } = await requester(5);
    const audits = await subscriber(broker.url, [`${base}/events/audit`]);
    await client.publishAsync(`${base}/cmd/start-scan`, JSON.stringify({ sampleId: 'S-7' }), {
      qos: 1,
      properties: { responseTopic: 'mes/replies/scope3', correlationData: Buffer.from('req-1'), userProperties: { actor: 'mes-line-a' } },
    });
    await until(() => replies.length === 1, 15_000, 'reply');
    expect(replies[0]).toMatchObject({
      topic: 'mes/replies/scope3',
      correlation: 'req-1',
      body: { status: 'ok', command: 'start-scan', data: { scanId: 'scan-for-S-7' } },
    });
    expect(replyValid(replies[0]!.body)).toBe(true);
    await until(() => audits.messages.length === 1, 15_000, 'audit event');
    expect(audits.json('/events/audit')[0]).toMatchObject({
      action: 'command.start-scan',
      actor: { kind: 'mqtt', id: 'mes-line-a' },
      outcome: 'ok',
      details: { request: { sampleId: 'S-7' } },
    });
    await audits.close();
    await client.endAsync();
  });

  it('refuses bad requests with a reason, and reports handler failures and timeouts', async () => {
    const { client, replies } = await requester(5);
    const ask = async (name: string, payload: string | Buffer, retain = false): Promise<Record<string, unknown>> => {
      const n = replies.length;
      await client.publishAsync(`${base}/cmd/${name}`, payload, {
        qos: 1,
        retain,
        properties: { responseTopic: 'mes/replies/x', correlationData: Buffer.from(`c${n}`) },
      });
      await until(() => replies.length > n, 15_000, `reply to ${name}`);
      const r = replies[n]!;
      expect(r.correlation).toBe(`c${n}`);
      expect(replyValid(r.body)).toBe(true);
      return r.body;
    };
    expect(await ask('start-scan', '{"sampleId": ')).toMatchObject({
      status: 'error',
      error: { code: 'bad_json', message: expect.stringMatching(/^payload is not valid JSON: /) },
    });
    expect(await ask('start-scan', '[1,2]')).toMatchObject({ status: 'error', error: { code: 'invalid', message: 'payload must be a JSON object' } });
    expect(await ask('start-scan', JSON.stringify({ sampleId: 7, transaction: 't9' }))).toEqual(
      expect.objectContaining({ status: 'error', transaction: 't9', error: { code: 'invalid', message: 'sampleId: must be string' } }),
    );
    expect(await ask('enqueue-sample', JSON.stringify({ sampleId: 'S-1' }))).toMatchObject({
      error: { code: 'invalid', message: "(top level): must have required property 'recipe'" },
    });
    expect(await ask('enqueue-sample', JSON.stringify({ sampleId: 'S-1', recipe: { id: 'r' }, colour: 'red' }))).toMatchObject({
      error: { code: 'invalid', message: '(top level): unknown field "colour"' },
    });
    expect(await ask('enqueue-sample', JSON.stringify({ sampleId: 'S-1', recipe: { id: 'r' }, priority: 'urgent' }))).toMatchObject({
      error: { code: 'invalid', message: 'priority: must be one of "normal", "high"' },
    });
    expect(await ask('self-destruct', '{}')).toMatchObject({
      command: 'self-destruct',
      error: {
        code: 'unknown_command',
        message: 'unknown command "self-destruct"; known: start-scan, pause-scan, resume-scan, abort-scan, enqueue-sample, reload-model, request-status',
      },
    });
    expect(await ask('reload-model', '{}')).toMatchObject({ error: { code: 'not_available', message: 'no handler for "reload-model" in this runtime' } });
    expect(await ask('abort-scan', '{}')).toMatchObject({ error: { code: 'failed', message: 'no scan is running' } });
    expect(await ask('pause-scan', '{}')).toMatchObject({ error: { code: 'timeout', message: 'no answer from the handler within 300 ms' } });
    expect(await ask('start-scan', Buffer.alloc(5000, 32))).toMatchObject({
      error: { code: 'too_large', message: 'payload of 5000 bytes exceeds the limit of 4096 bytes' },
    });
    expect(await ask('request-status', '')).toMatchObject({
      error: { code: 'invalid', message: 'payload is empty: send a JSON object ({} for no arguments)' },
    });
    expect(await ask('request-status', '{}')).toMatchObject({ status: 'ok', data: { status: { availability: 'online' }, outbox: { capBytes: 64 << 20 } } });
    expect(logText).toContain('"msg":"command rejected"');
    expect(logText).toContain('"code":"unknown_command"');
    await client.endAsync();
  });

  it('refuses a retained command instead of running it on every reconnect', async () => {
    const { client, replies } = await requester(5);
    const before = sink.counters().commands;
    const refused = before.rejected;
    await client.publishAsync(`${base}/cmd/start-scan`, JSON.stringify({ sampleId: 'retained' }), { qos: 1, retain: true });
    // Live delivery of a retained publish runs normally; the danger is the copy the broker keeps for later.
    await until(() => replies.length === 1, 15_000, 'reply to the live delivery');
    // The sink sees the retained flag when it subscribes again: reconnect it.
    (sink as unknown as { connection: { current: { stream: { destroy(): void } } } }).connection.current.stream.destroy();
    await until(() => replies.length === 2, 20_000, 'retained command refused');
    expect(replies[1]!.body).toMatchObject({
      status: 'error',
      error: { code: 'invalid', message: 'retained commands are refused: publish commands with retain false' },
    });
    // Clearing it delivers an empty message, which must not run the command either.
    await client.publishAsync(`${base}/cmd/start-scan`, '', { qos: 1, retain: true });
    await until(() => replies.length === 3, 15_000, 'reply to the empty message');
    expect(replies[2]!.body).toMatchObject({ status: 'error', error: { code: 'invalid' } });
    expect(sink.counters().commands.rejected - refused).toBe(2);
    await client.endAsync();
  });
});

describe('response topics', () => {
  it("answers only under the reply prefix or the device's own reply/; any other response topic is refused, counted and not run", async () => {
    const spy = await subscriber(broker.url, ['#']);
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const before = { ...sink.counters().commands };
    let ran = 0;
    const off = sink.onCommand('reload-model', () => ++ran);
    const hostile = [
      `${base}/events/defect`,
      'spBv1.0/smartscope/NDEATH/lineA-scope3',
      'smartscope/plant7/lineA/scope9/events/defect',
      '$SYS/broker/x',
      'mes/repliesX/evil',
    ];
    for (const [i, topic] of hostile.entries()) {
      await client.publishAsync(`${base}/cmd/reload-model`, JSON.stringify({ transaction: `h${i}` }), {
        qos: 1,
        properties: { responseTopic: topic, correlationData: Buffer.from(`h${i}`) },
      });
    }
    await until(() => spy.json(`${base}/reply/reload-model`).length === hostile.length, 15_000, 'refusals on reply/reload-model');
    const refusals = spy.json(`${base}/reply/reload-model`);
    for (const [i, topic] of hostile.entries()) {
      expect(refusals[i]).toMatchObject({
        status: 'error',
        transaction: `h${i}`,
        error: {
          code: 'invalid',
          message: `response topic ${JSON.stringify(topic)} is outside the reply prefix "mes/replies/" (mqtt.commands.replyTopicPrefix) and ${base}/reply/: refused, the command did not run`,
        },
      });
      expect(replyValid(refusals[i])).toBe(true);
    }
    // Nothing went to the topics named, and the command never ran.
    expect(spy.messages.filter((m) => hostile.includes(m.topic))).toEqual([]);
    expect(ran).toBe(0);
    const after = sink.counters().commands;
    expect(after.replyTopicRefused - before.replyTopicRefused).toBe(hostile.length);
    expect(after.rejected - before.rejected).toBe(hostile.length);
    // Allowed: under the prefix, and the device's own reply space.
    for (const topic of ['mes/replies/line-a/42', `${base}/reply/mine`]) {
      await client.publishAsync(`${base}/cmd/reload-model`, '{}', { qos: 1, properties: { responseTopic: topic, correlationData: Buffer.from('ok') } });
      await until(() => spy.messages.some((m) => m.topic === topic), 15_000, `reply on ${topic}`);
    }
    expect(ran).toBe(2);
    off();
    await client.endAsync();
    await spy.close();
  });
});

describe('commands over MQTT 3.1.1', () => {
  it('replies on reply/<name> with the transaction echoed', async () => {
    const { client, replies } = await requester(4);
    await client.publishAsync(
      `${base}/cmd/enqueue-sample`,
      JSON.stringify({ transaction: 'tx-42', sampleId: 'S-9', recipe: { id: 'polished-steel', version: '3' } }),
      { qos: 1 },
    );
    await client.publishAsync(`${base}/cmd/nonsense`, 'garbage', { qos: 1 });
    await until(() => replies.length === 2, 15_000, 'two replies');
    // Replies come when each command is done, not necessarily in request order.
    replies.sort((a, b) => a.topic.localeCompare(b.topic));
    expect(replies[0]).toMatchObject({
      topic: `${base}/reply/enqueue-sample`,
      body: { status: 'ok', transaction: 'tx-42', data: { position: 1, sampleId: 'S-9' } },
    });
    expect(replies[1]).toMatchObject({ topic: `${base}/reply/nonsense`, body: { status: 'error', error: { code: 'bad_json' } } });
    await client.endAsync();
  });
});

/** mulberry32: a small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('10,000 fuzzed commands', () => {
  it('are each answered and counted, and the sink keeps working', async () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const names = [
      'start-scan',
      'pause-scan',
      'resume-scan',
      'abort-scan',
      'enqueue-sample',
      'reload-model',
      'request-status',
      'x',
      'START-SCAN',
      'start-scan-',
      '%',
      'é',
      'cmd',
    ];
    const values: unknown[] = [null, true, 0, -1, 1e308, '', 'S-1', [], {}, { id: 'r' }, 'a'.repeat(300), { id: 7 }, [1, { a: 2 }]];
    const keys = ['sampleId', 'lot', 'recipe', 'priority', 'transaction', 'scanId', 'reason', 'role', 'bundle', '__proto__', 'constructor', ''];
    const payload = (): Buffer => {
      const kind = r();
      if (kind < 0.2) return Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
      if (kind < 0.3) return Buffer.from(JSON.stringify(pick(values)));
      if (kind < 0.35) return Buffer.from('{"a":'.repeat(Math.floor(r() * 50)));
      const obj: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) obj[pick(keys)] = pick(values);
      if (r() < 0.3) Object.assign(obj, { sampleId: 'S-1', recipe: { id: 'r' } });
      const text = JSON.stringify(obj);
      return Buffer.from(r() < 0.1 ? text.slice(0, Math.floor(r() * text.length)) : text);
    };
    const { client, replies } = await requester(5);
    const before = { ...sink.counters().commands };
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const props = r() < 0.5 ? { properties: { responseTopic: 'mes/replies/fuzz', correlationData: Buffer.from(String(i)) } } : {};
      client.publish(`${base}/cmd/${pick(names)}`, payload(), { qos: 0, ...props });
      if (i % 500 === 499) await new Promise((res) => setImmediate(res));
    }
    await until(() => sink.counters().commands.received - before.received >= N, 60_000, 'all fuzzed commands received');
    await until(() => replies.length >= N, 60_000, `all ${N} replies (got ${replies.length})`);
    const c = sink.counters().commands;
    expect(c.received - before.received).toBe(N);
    expect(c.replied - before.replied + (c.replyFailed - before.replyFailed)).toBe(N);
    expect(replies.length).toBe(N);
    for (const rep of replies) expect(replyValid(rep.body)).toBe(true);
    const ok = replies.filter((x) => x.body.status === 'ok').length;
    expect(c.rejected - before.rejected + (c.failed - before.failed)).toBe(N - ok);
    expect(ok).toBeGreaterThan(0);
    // Still alive and publishing.
    const events = await subscriber(broker.url, [`${base}/events/defect`]);
    const e = await sink.defect(defectInput(1));
    await until(() => events.json('/events/defect').some((x) => x.eventId === e.eventId), 20_000, 'event after the fuzz');
    await events.close();
    await client.endAsync();
  }, 180_000);
});
