/**
 * TLS with certificates generated here (mutual TLS: the broker asks for the client certificate) and a user name with
 * a password taken from an environment variable: events flow, a broker signed by another CA is refused, a wrong
 * password is refused, and the password never appears in a log line or an error.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { createLogger } from '../../src/kernel/logger.js';
import { baseClientOptions } from '../../src/publish/mqtt/client-options.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { makePki, type TestPki } from '../support/certs.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { defectInput, device, mqttConfig, subscriber, tempDir, until } from './fixtures.js';

const PASSWORD = 'pw-7f3c9e1a-never-logged';
let pki: TestPki;
let broker: Mosquitto;
let dir: string;

beforeAll(async () => {
  dir = tempDir('tls-');
  pki = makePki(dir);
  const pwfile = join(dir, 'passwd');
  writeFileSync(pwfile, '');
  execFileSync('mosquitto_passwd', ['-b', pwfile, 'scope3', PASSWORD]);
  execFileSync('mosquitto_passwd', ['-b', pwfile, 'mes', 'mes-secret']);
  broker = await startMosquitto({ tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, requireCertificate: true }, passwordFile: pwfile });
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }) });
  return { logger, text: () => text };
}

async function open(tls: Record<string, unknown>, env: NodeJS.ProcessEnv, logger: ReturnType<typeof createLogger>): Promise<MqttEventSink> {
  return MqttEventSink.open({
    config: mqttConfig({ url: broker.url, username: 'scope3', password: { env: 'SCOPE_MQTT_PASSWORD' }, tls }, env),
    device,
    clock: new RealClock(),
    logger,
    store: new MemoryStore(),
    softwareVersion: '0.1.0',
  });
}

describe('TLS and credentials', () => {
  it('publishes over mutual TLS with a password from the environment, and never logs it', async () => {
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    const sub = await subscriber(broker.url, [`${base}/events/defect`], {
      ca: [readFileSync(pki.ca)],
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
      username: 'mes',
      password: 'mes-secret',
    });
    const { logger, text } = capture();
    const sink = await open({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, { SCOPE_MQTT_PASSWORD: PASSWORD }, logger);
    try {
      const e = await sink.defect(defectInput(1));
      await until(() => sub.json('/events/defect').some((x) => x.eventId === e.eventId), 20_000, 'event over TLS');
      expect(text()).toContain('connected to broker');
      expect(text()).not.toContain(PASSWORD);
    } finally {
      await sink.close();
      await sub.close();
    }
  });

  it('refuses a broker whose certificate another CA signed, and keeps the events', async () => {
    const { logger, text } = capture();
    const sink = await open({ ca: pki.otherCa, cert: pki.clientCert, key: pki.clientKey }, { SCOPE_MQTT_PASSWORD: PASSWORD }, logger);
    try {
      await sink.defect(defectInput(1));
      await until(() => text().includes('broker connection error'), 20_000, 'a TLS error');
      expect(text()).toMatch(/"err":"(self[- ]signed certificate|unable to verify|certificate)/i);
      expect(sink.health()).toMatchObject({ connected: false, pendingEvents: 1 });
      expect(text()).not.toContain(PASSWORD);
    } finally {
      await sink.close(0);
    }
  });

  it('is refused with a wrong password, and does not log it', async () => {
    const { logger, text } = capture();
    const sink = await open({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, { SCOPE_MQTT_PASSWORD: 'wrong-password-123' }, logger);
    try {
      await until(() => text().includes('broker connection error'), 20_000, 'an authentication error');
      expect(text()).toMatch(/"err":"Connection refused: (Not authorized|Bad User Name or Password)/);
      expect(sink.health().connected).toBe(false);
      expect(text()).not.toContain('wrong-password-123');
    } finally {
      await sink.close(0);
    }
  });

  it('names the field when a secret or a certificate cannot be read', () => {
    expect(() => mqttConfig({ url: broker.url, password: { env: 'NOT_SET_ANYWHERE' } }, {})).toThrow(
      'config: 1 problem\n  - mqtt.password: {"env":"NOT_SET_ANYWHERE"} — expected environment variable NOT_SET_ANYWHERE to be set to the secret (it is not set)',
    );
    const pwFile = join(dir, 'empty-password');
    writeFileSync(pwFile, '\n');
    expect(() => mqttConfig({ url: broker.url, password: { file: pwFile } }, {})).toThrow(
      `  - mqtt.password: {"file":"${pwFile}"} — expected a secret on the first line of ${pwFile} (the line is empty)`,
    );
    expect(() => baseClientOptions(mqttConfig({ url: broker.url, tls: { ca: '/nonexistent/ca.pem' } }))).toThrow(
      '  - mqtt.tls.ca: "/nonexistent/ca.pem" — expected a readable PEM file (ENOENT)',
    );
    expect(() => baseClientOptions(mqttConfig({ url: broker.url, tls: { cert: pki.clientCert } }))).toThrow(
      '  - mqtt.tls.key: missing — expected a value: a client certificate needs both cert and key',
    );
    writeFileSync(pwFile, `${PASSWORD}\nsecond line ignored\n`);
    const cfg = mqttConfig({ url: broker.url, password: { file: pwFile } }, {});
    expect(baseClientOptions(cfg).password).toBe(PASSWORD);
    // The resolved config can be logged or printed whole without the password.
    expect(JSON.stringify(cfg)).not.toContain(PASSWORD);
    expect(() => baseClientOptions({ ...cfg, password: { env: 'X' } as never })).toThrow(
      '  - mqtt.password: "[not shown]" — expected a secret resolved by the config loader (parseConfig / loadConfigFile)',
    );
  });

  it('rejects an inline password in the config file', () => {
    expect(() => mqttConfig({ url: broker.url, password: PASSWORD })).toThrow(/mqtt\.password/);
  });
});
