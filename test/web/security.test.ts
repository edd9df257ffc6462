import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/kernel/validate.js';
import { ControlServer } from '../../src/ops/control-socket.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { Records } from '../../src/records/records.js';
import { hashSecret, verifySecret } from '../../src/web/auth.js';
import type { WebConfig } from '../../src/web/config.js';
import { WebPage } from '../../src/web/page.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as written (no URL normalisation). */
function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // A server that refuses a large body may close before it is all sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = { 'Content-Type': 'application/json' };

describe('web page security', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smartscope-web-sec-'));
  let page: WebPage;
  let records: Records;
  let url: string;
  const commands: string[] = [];

  beforeAll(async () => {
    const web = parseConfig({
      web: {
        port: 0,
        auth: { passwordHash: hashSecret('correct horse'), tokenHash: hashSecret('api-token-1') },
        limits: { requestsPerMinute: 60, signInsPerMinute: 5, maxBodyBytes: 1024 },
      },
    }).web as WebConfig;
    records = Records.open({ path: join(dir, 'records.db') });
    // An image row pointing outside the served folder, as a tampered database would.
    records.db
      .prepare("INSERT INTO images (sha256, path, bytes, format, width, height, created_at) VALUES ('x', '/etc/passwd', 10, 'jpeg', 1, 1, 'now')")
      .run();
    writeFileSync(join(dir, 'inside.jpg'), 'not really a jpeg');
    const control = new ControlServer(join(dir, 'c.sock'), silentLogger(), (actor, command, _a, outcome) =>
      commands.push(`${actor.user} ${actor.via} ${command} ${outcome}`),
    );
    control.handle('scan-pause', () => {
      throw new Error('no scan is running');
    });
    page = new WebPage(web, silentLogger());
    url = await page.listen({ records, servedRoots: [dir], control });
  });

  afterAll(async () => {
    await page.close();
    records.close();
  });

  it('serves the page with security headers on loopback by default', async () => {
    expect((parseConfig({}).web as WebConfig).host).toBe('127.0.0.1');
    const r = await raw(url, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>smartscope</title>');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['x-frame-options']).toBe('DENY');
  });

  it('refuses paths that try to walk out of their folders', async () => {
    for (const p of [
      '/static/../../../etc/passwd',
      '/static/..%2f..%2fetc%2fpasswd',
      '/api/images/../../etc/passwd',
      '/static//etc/passwd',
      '/static/app.js\\..\\x',
    ]) {
      const r = await raw(url, 'GET', p);
      expect(r.status, p).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ error: 'malformed path' });
    }
    expect((await raw(url, 'GET', '/static/passwd')).status).toBe(404);
    // The records may name a file, but only inside the served folders.
    const img = await raw(url, 'GET', '/api/images/1');
    expect(img.status).toBe(404);
    expect(JSON.parse(img.body)).toEqual({ error: 'image outside the served folders' });
    expect(page.server!.refused['bad-path']).toBe(6);
  });

  it('refuses a body larger than the limit with 413', async () => {
    const r = await raw(url, 'POST', '/api/login', { ...json, 'Content-Length': String(200_000) }, Buffer.alloc(200_000, 0x20));
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'request body larger than 1024 bytes' });
    expect(page.server!.refused['body-size']).toBe(1);
  });

  it('refuses actions without sign-in, with a bad token, or without the CSRF token', async () => {
    const body = '{}';
    expect((await raw(url, 'POST', '/api/control/pause', json, body)).status).toBe(401);
    const bad = await raw(url, 'POST', '/api/control/pause', { ...json, Authorization: 'Bearer wrong' }, body);
    expect([bad.status, JSON.parse(bad.body)]).toEqual([401, { error: 'bad API token' }]);
    const wrongPw = await raw(url, 'POST', '/api/login', json, JSON.stringify({ user: 'qc', password: 'nope' }));
    expect([wrongPw.status, JSON.parse(wrongPw.body)]).toEqual([401, { error: 'wrong password' }]);
    const login = await raw(url, 'POST', '/api/login', json, JSON.stringify({ user: 'qc', password: 'correct horse' }));
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    const { csrf } = JSON.parse(login.body) as { csrf: string };
    const noCsrf = await raw(url, 'POST', '/api/control/pause', { ...json, Cookie: cookie }, body);
    expect([noCsrf.status, JSON.parse(noCsrf.body)]).toEqual([403, { error: 'missing or wrong CSRF token' }]);
    const wrongCsrf = await raw(url, 'POST', '/api/control/pause', { ...json, Cookie: cookie, 'X-CSRF-Token': `${csrf}x` }, body);
    expect(wrongCsrf.status).toBe(403);
    const crossSite = await raw(url, 'POST', '/api/control/pause', { ...json, Cookie: cookie, 'X-CSRF-Token': csrf, Origin: 'http://evil.example' }, body);
    expect([crossSite.status, JSON.parse(crossSite.body)]).toEqual([403, { error: 'cross-origin request refused' }]);
    expect(commands).toEqual([]);
    // With the token the command reaches the scan control (and is recorded like a socket command).
    const ok = await raw(url, 'POST', '/api/control/pause', { ...json, Cookie: cookie, 'X-CSRF-Token': csrf }, body);
    expect([ok.status, JSON.parse(ok.body)]).toEqual([409, { status: 'error', error: 'no scan is running' }]);
    const api = await raw(url, 'POST', '/api/control/pause', { ...json, Authorization: 'Bearer api-token-1' }, body);
    expect(api.status).toBe(409);
    expect(commands).toEqual(['qc web scan-pause error', 'api-token web scan-pause error']);
    const text = await raw(url, 'POST', '/api/control/pause', { 'Content-Type': 'text/plain', Cookie: cookie, 'X-CSRF-Token': csrf }, body);
    expect(text.status).toBe(415);
    const s = page.server!.refused;
    expect([s.unauthenticated, s['bad-credentials'], s.csrf, s.origin, s['content-type']]).toEqual([1, 2, 2, 1, 1]);
  });

  it('refuses a foreign Host header on loopback (DNS rebinding) and unknown methods', async () => {
    expect((await raw(url, 'GET', '/api/status', { Host: 'evil.example' })).status).toBe(403);
    expect((await raw(url, 'DELETE', '/api/status')).status).toBe(405);
    expect(page.server!.refused.host).toBe(1);
  });

  it('limits requests per client per minute with 429', async () => {
    let status = 200;
    let n = 0;
    while (status !== 429 && n < 100) {
      status = (await raw(url, 'GET', '/api/session')).status;
      n++;
    }
    expect(status).toBe(429);
    expect(n).toBeLessThanOrEqual(60);
    expect(page.server!.refused.rate).toBe(1);
  });
});

describe('web sign-in secrets and config', () => {
  it('verifies a scrypt hash and refuses a wrong secret', () => {
    const h = hashSecret('s3cret');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(verifySecret('s3cret', h)).toBe(true);
    expect(verifySecret('s3cret ', h)).toBe(false);
    expect(verifySecret('s3cret', 'plain')).toBe(false);
  });

  it('refuses a password given in clear in the config, naming the field', () => {
    try {
      parseConfig({ web: { auth: { passwordHash: 'hunter2' } } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('web.auth.passwordHash');
      expect((err as Error).message).toContain('smartscope web-password');
    }
  });
});
