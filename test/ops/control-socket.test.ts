import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/kernel/actor.js';
import { ControlServer, controlRequest } from '../../src/ops/control-socket.js';
import { silentLogger } from '../../src/kernel/logger.js';

const actor: Actor = { user: 'tech', from: 'ssh 10.0.0.9', via: 'cli' };
const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(text));
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        c.destroy();
        resolve(buf.trim());
      }
    });
    c.on('error', reject);
  });
}

describe('control socket', () => {
  it('runs a registered command, passes the caller, and records it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'smartscope-ctl-')), 'control.sock');
    const seen: string[] = [];
    const s = new ControlServer(path, silentLogger(), (a, command, _args, outcome, detail) =>
      seen.push(`${a.user}@${a.from} ${command} ${outcome}${detail ? ` ${detail}` : ''}`),
    );
    servers.push(s);
    s.handle('echo', (args, a) => ({ args, user: a.user }));
    s.handle('fails', () => {
      throw new Error('no scan is running');
    });
    await s.listen();
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(await controlRequest(path, 'echo', { x: 1 }, actor)).toEqual({ status: 'ok', data: { args: { x: 1 }, user: 'tech' } });
    expect(await controlRequest(path, 'fails', {}, actor)).toEqual({ status: 'error', error: 'no scan is running' });
    expect(seen).toEqual(['tech@ssh 10.0.0.9 echo ok', 'tech@ssh 10.0.0.9 fails error no scan is running']);
  });

  it('answers garbage, unknown commands and oversized requests with an error, counts them, and keeps serving', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'smartscope-ctl-')), 'control.sock');
    const s = new ControlServer(path, silentLogger());
    servers.push(s);
    s.handle('ping', () => 'pong');
    await s.listen();
    expect(JSON.parse(await raw(path, '{not json\n'))).toEqual({ status: 'error', error: 'request is not a JSON object' });
    const unknown = JSON.parse(await raw(path, '{"command":"format-disk"}\n')) as { error: string };
    expect(unknown.error).toMatch(/unknown command "format-disk"; known: ping/);
    expect(JSON.parse(await raw(path, 'x'.repeat(70_000)))).toMatchObject({ status: 'error', error: expect.stringMatching(/longer than/) });
    expect(s.rejected).toBe(3);
    expect(await controlRequest(path, 'ping', {}, actor)).toEqual({ status: 'ok', data: 'pong' });
  });

  it('replaces a socket left by a dead daemon, refuses to start beside a live one, and says when none runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-ctl-'));
    const path = join(dir, 'control.sock');
    writeFileSync(path, ''); // what a killed daemon leaves behind (a stale entry nobody listens on)
    const s = new ControlServer(path, silentLogger());
    servers.push(s);
    await s.listen();
    await expect(new ControlServer(path, silentLogger()).listen()).rejects.toThrow(/already listening/);
    await expect(controlRequest(join(dir, 'none.sock'), 'ping', {}, actor)).rejects.toThrow(/no daemon is running/);
  });
});
