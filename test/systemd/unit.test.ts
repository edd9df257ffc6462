/**
 * The systemd files are checked by systemd's own tools, offline (systemd need not be PID 1): the unit verifies, its
 * hardening exposure stays ≤ 2.5, and sysusers/tmpfiles create the account and folders in a scratch root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

const unit = join(repoRoot, 'systemd', 'smartscope.service');

/** The unit as installed; ExecStart's node is swapped for this machine's when /usr/bin/node is missing. */
function unitForThisMachine(): string {
  if (existsSync('/usr/bin/node')) return unit;
  const dir = mkdtempSync(join(tmpdir(), 'smartscope-unit-'));
  const copy = join(dir, 'smartscope.service');
  writeFileSync(copy, readFileSync(unit, 'utf8').replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  return copy;
}

function directives(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of readFileSync(unit, 'utf8').split('\n')) {
    const r = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (r) m.set(r[1]!, [...(m.get(r[1]!) ?? []), r[2]!]);
  }
  return m;
}

describe('systemd/smartscope.service', () => {
  it('passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', unitForThisMachine()], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('has an exposure of at most 2.5 in systemd-analyze security --offline=yes', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', unitForThisMachine()], { encoding: 'utf8' });
    const m = /Overall exposure level for smartscope\.service: (\d+\.\d)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const exposure = Number(m![1]);
    console.log(`systemd-analyze security exposure: ${exposure}`);
    expect(exposure).toBeLessThanOrEqual(2.5);
  });

  it('is a notify service with a watchdog, restart limits, a dedicated user and device allow list', () => {
    const d = directives();
    const one = (k: string): string | undefined => d.get(k)?.at(-1);
    expect(one('Type')).toBe('notify');
    expect(one('WatchdogSec')).toBe('30s');
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('78');
    expect(one('StartLimitBurst')).toBe('5');
    expect(one('User')).toBe('smartscope');
    expect(one('StateDirectory')).toBe('smartscope');
    expect(one('LogsDirectory')).toBe('smartscope');
    expect(one('DevicePolicy')).toBe('closed');
    expect(d.get('DeviceAllow')).toEqual(['char-video4linux rw', 'char-usb_device rw', 'char-ttyUSB rw', 'char-ttyACM rw', 'char-ttyS rw']);
    for (const k of ['ProtectSystem', 'NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'CapabilityBoundingSet', 'SystemCallFilter', 'RestrictAddressFamilies']) {
      expect(d.has(k), k).toBe(true);
    }
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('CapabilityBoundingSet')).toBe('');
  });
});

describe('systemd/smartscope.sysusers and smartscope.tmpfiles', () => {
  it('create the account and the folders in a scratch root', () => {
    const root = mkdtempSync(join(tmpdir(), 'smartscope-root-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'group'), 'video:x:44:\ndialout:x:20:\n');
    writeFileSync(join(root, 'etc', 'passwd'), '');
    const su = spawnSync('systemd-sysusers', [`--root=${root}`, '-'], {
      input: readFileSync(join(repoRoot, 'systemd', 'smartscope.sysusers')),
      encoding: 'utf8',
    });
    expect(su.status, su.stderr).toBe(0);
    const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
    expect(passwd).toMatch(/^smartscope:x:(\d+):(\d+):smartscope microscope runtime:\/var\/lib\/smartscope:\/usr\/sbin\/nologin$/m);
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8');
    expect(group).toMatch(/^video:x:44:smartscope$/m);
    expect(group).toMatch(/^dialout:x:20:smartscope$/m);
    const tf = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', '-'], {
      input: readFileSync(join(repoRoot, 'systemd', 'smartscope.tmpfiles')),
      encoding: 'utf8',
    });
    expect(tf.status, tf.stderr).toBe(0);
    const uid = Number(/^smartscope:x:(\d+):/m.exec(passwd)![1]);
    for (const d of ['var/lib/smartscope', 'var/lib/smartscope/models', 'var/log/smartscope']) {
      const st = statSync(join(root, d));
      expect(st.uid, d).toBe(uid);
      expect(st.mode & 0o777, d).toBe(0o750);
    }
    expect(statSync(join(root, 'etc/smartscope/trusted-keys')).mode & 0o777).toBe(0o755);
  });
});
