/**
 * Connection options from the `mqtt` config: TLS files, credentials by reference, protocol version. Files and
 * secrets are read once, at start, so a bad path fails the start with the field named — never a reconnect loop that
 * fails forever. Secrets never appear in errors or log lines.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { ConfigError } from '../../config/validate.js';
import type { MqttConfig, SecretRef } from '../config.js';

/** Reads a secret given as `{ file }` (first line) or `{ env }`. */
export function resolveSecret(ref: SecretRef, path: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('file' in ref) {
    let text: string;
    try {
      text = readFileSync(ref.file, 'utf8');
    } catch (err) {
      throw new ConfigError('config', [{ path, value: ref, expected: `a readable file holding the secret (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` }]);
    }
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    if (line.length === 0) throw new ConfigError('config', [{ path, value: ref, expected: 'a file whose first line holds the secret (it is empty)' }]);
    return line;
  }
  const v = env[ref.env];
  if (v === undefined || v === '') {
    throw new ConfigError('config', [{ path, value: ref, expected: `the environment variable ${ref.env} to be set (it is not)` }]);
  }
  return v;
}

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
export function baseClientOptions(cfg: MqttConfig, env: NodeJS.ProcessEnv = process.env): IClientOptions {
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
  if (cfg.username !== undefined) opts.username = cfg.username;
  if (cfg.password !== undefined) opts.password = resolveSecret(cfg.password, 'mqtt.password', env);
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
