import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { obj, secretRef, str } from '../../src/kernel/schema-kit.js';
import { resolveSecrets, Secret } from '../../src/kernel/secret.js';
import { ConfigError, issuesToJson, validate } from '../../src/kernel/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'smartscope-config-'));

function problems(yaml: string): string {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, yaml);
  try {
    loadConfigFile(f);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split('\n').slice(1).join('\n');
  }
  throw new Error('config was accepted');
}

describe('config errors name the path, the value and what was expected', () => {
  it('unknown key at the top level lists the sections', () => {
    expect(problems('helth:\n  port: 80\n')).toMatch(
      /^ {2}- helth: \{"port":80\} — expected no such setting here \(unknown key "helth"; allowed: device, logging, twin, appliance, health, models, records.*\)$/,
    );
  });

  it('unknown nested key lists the allowed keys', () => {
    expect(problems('models:\n  keeep: 4\n')).toBe(
      '  - models.keeep: 4 — expected no such setting here (unknown key "keeep"; allowed: trustedKeysDir, keep, warmupRuns, watchIntervalMs, probation)',
    );
  });

  it('wrong type', () => {
    expect(problems('health:\n  port: "eighty"\n')).toBe('  - health.port: "eighty" — expected integer (TCP port)');
  });

  it('out of range, with the unit', () => {
    expect(problems('appliance:\n  shutdownTimeoutS: 0.5\n')).toBe(
      '  - appliance.shutdownTimeoutS: 0.5 — expected a number >= 1 s (Longest clean shutdown after SIGTERM before the daemon gives up waiting and exits (keep below the unit’s TimeoutStopSec))',
    );
    expect(problems('models:\n  keep: 50\n')).toBe(
      '  - models.keep: 50 — expected a number <= 20 (Installed versions kept per role (the active one plus those a rollback can return to))',
    );
  });

  it('not one of the allowed values', () => {
    expect(problems('logging:\n  level: loud\n')).toBe(
      '  - logging.level: "loud" — expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (Lowest level written)',
    );
  });

  it('pattern and format described in words', () => {
    expect(problems('appliance:\n  stateDir: var/lib\n')).toBe(
      '  - appliance.stateDir: "var/lib" — expected an absolute path (starting with /) (Writable state: models/ (installed bundles), records.db (SQLite records), images/)',
    );
    expect(problems('health:\n  host: localhost\n')).toBe('  - health.host: "localhost" — expected an IPv4 address such as 127.0.0.1 (Address to listen on)');
    expect(problems('device:\n  id: "scope 1"\n')).toBe(
      '  - device.id: "scope 1" — expected a string matching ^[A-Za-z0-9_-]+$ (Device id, unique within the line)',
    );
  });

  it('every problem of a file is reported, not only the first', () => {
    const p = problems('health:\n  port: 0\n  host: 1.2.3\nmodels:\n  keep: 1\n');
    expect(p.split('\n')).toHaveLength(3);
  });

  it('YAML syntax errors and duplicate keys', () => {
    expect(problems('health:\n  port: [1\n')).toMatch(/^ {2}- \(top level\): missing — expected valid YAML \(.+\)$/);
    expect(problems('health:\n  port: 1\n  port: 2\n')).toMatch(/^ {2}- \(top level\): missing — expected valid YAML \(Map keys must be unique.*\)$/);
  });

  it('a missing file', () => {
    try {
      loadConfigFile(join(dir, 'nope.yaml'));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe(`${join(dir, 'nope.yaml')}: 1 problem\n  - (top level): missing — expected a readable YAML file (ENOENT)`);
    }
  });

  it('an empty file means all defaults', () => {
    const f = join(dir, 'empty.yaml');
    writeFileSync(f, '');
    const c = loadConfigFile(f);
    expect(c.health).toEqual({ enabled: true, host: '127.0.0.1', port: 9273, staleFrameS: 60 });
    expect(c.models.keep).toBe(3);
  });
});

describe('secrets only by reference', () => {
  const { default: _d, ...schema } = obj('test root', {
    broker: obj('A broker.', { username: str('User.', 'u'), password: secretRef('The broker password.') }),
  });

  function issues(data: unknown): string {
    try {
      validate(schema, data, 'f.yaml');
    } catch (err) {
      return (err as Error).message.split('\n').slice(1).join('\n');
    }
    throw new Error('accepted');
  }

  it('an inline secret is refused and not echoed', () => {
    const msg = issues({ broker: { password: 'hunter2' } });
    expect(msg).toBe(
      '  - broker.password: an inline value (not shown) — expected a reference { file: PATH } or { env: NAME } (secrets are never written into the config file)',
    );
    try {
      validate(schema, { broker: { password: 'hunter2' } }, 'f.yaml');
    } catch (err) {
      expect(JSON.stringify(issuesToJson((err as ConfigError).issues))).not.toContain('hunter2');
    }
  });

  it('malformed references', () => {
    const expected = 'expected a reference { file: PATH } or { env: NAME } (secrets are never written into the config file)';
    expect(issues({ broker: { password: { file: 'a', env: 'B' } } })).toBe(`  - broker.password: {"file":"a","env":"B"} — ${expected}`);
    expect(issues({ broker: { password: {} } })).toBe(`  - broker.password: {} — ${expected}`);
    expect(issues({ broker: { password: { path: '/x' } } })).toBe(`  - broker.password: {"path":"/x"} — ${expected}`);
  });

  it('file and env references resolve at load time into values that never print', () => {
    const f = join(dir, 'pass.txt');
    writeFileSync(f, 's3cr3t-from-file\nsecond line ignored\n');
    chmodSync(f, 0o600);
    const data = validate<{ broker: { password: Secret } }>(schema, { broker: { password: { file: 'pass.txt' } } }, 'f.yaml');
    const r = resolveSecrets(schema, data, dir, {});
    expect(r).toEqual({ issues: [], warnings: [] });
    const s = data.broker.password;
    expect(s.reveal()).toBe('s3cr3t-from-file');
    expect(JSON.stringify(data)).toBe('{"broker":{"password":"[secret]","username":"u"}}');
    expect(inspect(data, { depth: 5 })).not.toContain('s3cr3t');
    expect(`${s}`).toBe('[secret]');

    const d2 = validate<{ broker: { password: Secret } }>(schema, { broker: { password: { env: 'BROKER_PW' } } }, 'f.yaml');
    expect(resolveSecrets(schema, d2, dir, { BROKER_PW: 'from-env' }).issues).toEqual([]);
    expect(d2.broker.password.reveal()).toBe('from-env');
  });

  it('unreadable file, empty file, unset variable are config errors', () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n');
    const d = validate(schema, { broker: { password: { file: 'missing.txt' } } }, 'f.yaml');
    expect(resolveSecrets(schema, d, dir, {}).issues).toEqual([
      { path: 'broker.password', value: { file: 'missing.txt' }, expected: `a readable file holding the secret (${join(dir, 'missing.txt')}: ENOENT)` },
    ]);
    const e = validate(schema, { broker: { password: { file: empty } } }, 'f.yaml');
    expect(resolveSecrets(schema, e, dir, {}).issues[0]!.expected).toBe(`a secret on the first line of ${empty} (the line is empty)`);
    const v = validate(schema, { broker: { password: { env: 'NOT_SET_ANYWHERE' } } }, 'f.yaml');
    expect(resolveSecrets(schema, v, dir, {}).issues[0]!.expected).toBe('environment variable NOT_SET_ANYWHERE to be set to the secret (it is not set)');
  });

  it('a world-readable secret file is a warning', () => {
    const f = join(dir, 'open.txt');
    writeFileSync(f, 'x\n');
    chmodSync(f, 0o644);
    const d = validate(schema, { broker: { password: { file: f } } }, 'f.yaml');
    expect(resolveSecrets(schema, d, dir, {}).warnings).toEqual([`broker.password: secret file ${f} is readable by every user (mode 644); chmod o-rwx it`]);
  });
});

describe('defaults', () => {
  it('parseConfig({}) gives a complete config', () => {
    const c = parseConfig({});
    expect(c.appliance.stateDir).toBe('/var/lib/smartscope');
    expect(c.records.retention.imagesMaxAgeDays).toBe(90);
  });
});
