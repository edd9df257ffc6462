/**
 * docs/asyncapi.yaml is a valid AsyncAPI 3.0.0 document, and it describes what a real sink publishes: every message
 * seen on the broker during a session (events, images, status, stats, commands and replies, Sparkplug) belongs to a
 * declared channel and validates against that channel's payload schema; every channel is exercised.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import asyncapiSpecs from '@asyncapi/specs';
import AjvImport from 'ajv';
import addFormatsImport from 'ajv-formats';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { createEventSink } from '../../src/publish/index.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { createPayloadAjv } from '../../src/publish/schemas/index.js';
import { asyncapiChecker } from '../support/asyncapi.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, scanFinished, scanProgress, scanStarted, subscriber, tempDir, thumbnailSource, until } from './fixtures.js';

const Ajv = AjvImport as unknown as typeof AjvImport.default;
const addFormats = addFormatsImport as unknown as (a: InstanceType<typeof Ajv>) => void;
const docPath = resolve(import.meta.dirname, '../../docs/asyncapi.yaml');
const doc = parseYaml(readFileSync(docPath, 'utf8')) as {
  channels: Record<string, { address: string | null; messages: Record<string, { $ref: string }>; parameters?: Record<string, { enum?: string[] }> }>;
  components: { messages: Record<string, { contentType: string; payload: { $ref?: string; type?: string } }> };
};

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker.close();
});

describe('docs/asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3.0.0 document', () => {
    // The AsyncAPI schema embeds its own copy of the draft-07 meta-schema: let it provide that instead of Ajv.
    const ajv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false });
    addFormats(ajv);
    const validate = ajv.compile(asyncapiSpecs.schemas['3.0.0'] as object);
    const ok = validate(doc);
    expect(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 1)).toBe(true);
  });

  it('references schema files that exist and compile', () => {
    const payloadAjv = createPayloadAjv();
    for (const [name, m] of Object.entries(doc.components.messages)) {
      if (!m.payload.$ref) continue;
      const file = join(dirname(docPath), m.payload.$ref);
      const schema = JSON.parse(readFileSync(file, 'utf8')) as { $id: string };
      expect(payloadAjv.getSchema(schema.$id), `${name} → ${m.payload.$ref}`).toBeTypeOf('function');
    }
  });

  it('describes every message a real session puts on the broker', async () => {
    const dir = tempDir('asyncapi-');
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    const spy = await subscriber(broker.url, ['#']);
    const cfg = mqttConfig({ url: broker.url, statsIntervalS: 0.2, outbox: { dir }, sparkplug: { enabled: true, groupId: 'G1', primaryHostId: 'scada' } });
    const sink = await createEventSink(
      { mqtt: cfg },
      { clock: new RealClock(), logger: silentLogger(), device, store: new MemoryStore(), softwareVersion: '0.1.0' },
    );
    const mes = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    try {
      sink.onCommand('start-scan', () => ({ scanId: 'scan-0002' }));
      await mes.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
      await until(() => sink.health().connected, 20_000, 'connected');
      // The Sparkplug session is separate: let it be born before anything changes, so changes go out as DDATA.
      await until(() => spy.messages.some((m) => m.topic.includes('/DBIRTH/')), 20_000, 'Sparkplug births');
      await sink.state({ state: 'scanning', scanId: 'scan-0001', sampleId: 'S-42' });
      await sink.scan(scanStarted);
      await sink.defect(defectInput(1), thumbnailSource());
      await sink.scan(scanProgress);
      await sink.alarm({ code: 'focus.lost', severity: 'warning', active: true, message: 'autofocus failed twice' });
      await sink.audit({ action: 'config.changed', actor: { kind: 'local' }, outcome: 'ok' });
      await sink.scan(scanFinished, { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), widthPx: 1, heightPx: 1 });
      const names = ['start-scan', 'pause-scan', 'resume-scan', 'abort-scan', 'enqueue-sample', 'reload-model', 'request-status'];
      for (const n of names)
        await mes.publishAsync(`${base}/cmd/${n}`, JSON.stringify(n === 'enqueue-sample' ? { sampleId: 'S-1', recipe: { id: 'r' } } : {}), { qos: 1 });
      await mes.publishAsync(`${base}/cmd/start-scan`, '{}', {
        qos: 1,
        properties: { responseTopic: 'mes/replies/asyncapi', correlationData: Buffer.from('1') },
      });
      await until(
        () => spy.messages.filter((m) => m.topic.includes('/reply/')).length === names.length && spy.messages.some((m) => m.topic === 'mes/replies/asyncapi'),
        20_000,
        'replies',
      );
      await until(
        () => spy.messages.some((m) => m.topic.endsWith('/stats')) && spy.messages.some((m) => m.topic.includes('/DDATA/')),
        20_000,
        'stats and DDATA',
      );
      await sink.close();
    } finally {
      await sink.close();
      await mes.publishAsync('spBv1.0/STATE/scada', '', { qos: 1, retain: true });
      await mes.endAsync();
      await spy.close();
      rmSync(dir, { recursive: true, force: true });
    }

    const checker = asyncapiChecker(doc);
    const seen = new Set<string>();
    for (const m of spy.messages) {
      if (m.payload.length === 0) continue; // clearing a retained message
      seen.add(checker.check(m.topic, m.payload));
    }
    expect([...seen].sort()).toEqual([...checker.channels].sort());
  }, 120_000);
});
