/**
 * Connection options from the `mqtt` config: TLS files, credentials, protocol version. The password arrives as a
 * Secret (the config loader resolved its `{ file }` / `{ env }` reference and names the field when it cannot); TLS
 * files are read here, once, at start, so a bad path fails the start with the field named — never a reconnect loop
 * that fails forever. Secrets never appear in errors or log lines.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { ConfigError } from '../../kernel/validate.js';
import { Secret } from '../../kernel/secret.js';
import type { MqttConfig } from '../config.js';
import { maxIncomingPacketBytes } from './packet-guard.js';

function readPem(file: string | undefined, path: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError('config', [{ path, value: file, expected: `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` }]);
  }
}

/**
 * The options every connection of this device shares (the will, client id and reconnect policy are added per
 * connection). `reconnectPeriod: 0`: the Connection class reconnects itself, with a fresh will each time.
 */
export function baseClientOptions(cfg: MqttConfig): IClientOptions {
  const opts: IClientOptions = {
    protocolVersion: cfg.protocolVersion,
    keepalive: cfg.keepaliveS,
    connectTimeout: cfg.connectTimeoutMs,
    reconnectPeriod: 0,
    clean: true,
    // Our outbox is the queue: never let the client library buffer publishes while offline.
    queueQoSZero: false,
    resubscribe: false,
  };
  // MQTT 5: tell the broker the largest packet we accept, so it never sends a larger one (MQTT 5 §3.1.2.11.4).
  if (cfg.protocolVersion === 5) opts.properties = { maximumPacketSize: maxIncomingPacketBytes(cfg.commands.maxPayloadBytes) };
  if (cfg.username !== undefined) opts.username = cfg.username;
  if (cfg.password !== undefined) {
    if (!(cfg.password instanceof Secret)) {
      throw new ConfigError('config', [
        { path: 'mqtt.password', value: '[not shown]', expected: 'a secret resolved by the config loader (parseConfig / loadConfigFile)' },
      ]);
    }
    opts.password = cfg.password.reveal();
  }
  const tls = cfg.tls;
  const ca = readPem(tls.ca, 'mqtt.tls.ca');
  const cert = readPem(tls.cert, 'mqtt.tls.cert');
  const key = readPem(tls.key, 'mqtt.tls.key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError('config', [
      { path: cert ? 'mqtt.tls.key' : 'mqtt.tls.cert', value: undefined, expected: 'a value: a client certificate needs both cert and key' },
    ]);
  }
  if (ca) opts.ca = ca;
  if (cert) opts.cert = cert;
  if (key) opts.key = key;
  opts.rejectUnauthorized = tls.rejectUnauthorized;
  if (tls.servername) opts.servername = tls.servername;
  return opts;
}
