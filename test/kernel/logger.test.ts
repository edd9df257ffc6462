import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { obj, secretRef, str } from '../../src/kernel/schema-kit.js';
import { resolveSecrets } from '../../src/kernel/secret.js';
import { validate } from '../../src/kernel/validate.js';
import { createLogger } from '../../src/kernel/logger.js';

describe('logs', () => {
  it('are JSON lines with the module of each child, and never contain a secret', () => {
    const { default: _d, ...schema } = obj('root', { mqtt: obj('Broker.', { url: str('URL.', 'mqtt://broker:1883'), password: secretRef('Password.') }) });
    const config = validate<{ mqtt: { url: string; password: unknown } }>(schema, { mqtt: { password: { env: 'MQTT_PW' } } }, 'test');
    expect(resolveSecrets(schema, config, '/', { MQTT_PW: 'correct-horse-battery' }).issues).toEqual([]);
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = createLogger({ level: 'debug', destination: sink });
    const mqtt = log.child({ module: 'mqtt' });
    mqtt.info({ config }, 'connecting');
    mqtt.debug({ options: { username: 'scope', password: 'typed-by-hand' } }, 'client options');
    log.child({ module: 'stage' }).warn({ err: 'timeout' }, 'no reply');
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.module, l.msg])).toEqual([
      ['mqtt', 'connecting'],
      ['mqtt', 'client options'],
      ['stage', 'no reply'],
    ]);
    expect(out).not.toContain('correct-horse-battery');
    expect(out).not.toContain('typed-by-hand');
    expect(['[secret]', '[redacted]']).toContain((lines[0]!.config as { mqtt: { password: string } }).mqtt.password);
    expect(lines[1]!.options as { username: string; password: string }).toEqual({ username: 'scope', password: '[redacted]' });
  });
});
