/**
 * The web page's HTTP server (node:http): static page, JSON API, Server-Sent Events for scan events, an MJPEG live
 * stream, and the signed-in actions (control, review). Secure by default: it listens on loopback unless configured
 * otherwise, refuses Host headers other than its own loopback names while on loopback (DNS rebinding), wants a
 * session cookie plus the session's CSRF token — or an API token — for every action, reads only images the records
 * point at inside the folders it may serve, and bounds request bodies, request rates and open streams. Every refusal
 * is counted by reason.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import type { Actor } from '../kernel/actor.js';
import type { ControlReply } from '../ops/control-socket.js';
import type { Logger } from '../kernel/logger.js';
import type { Records } from '../records/records.js';
import { RateLimiter, sameToken, Sessions, verifySecret, type Session } from './auth.js';
import type { WebConfig } from './config.js';
import { cookies, headers, hostName, HttpError, isLoopback, readJson, sendBytes, sendJson, type RefusalReason } from './http-kit.js';
import type { LiveFrame, LiveView } from './live.js';
import { defectDetail, imageRow, inside, listScans, scanDefects, scanRow } from './records-view.js';
import { annotate, CLASS_COLOURS, type PageEvent, type ScanView } from './scan-view.js';

export interface WebControl {
  invoke(command: string, args: Record<string, unknown>, actor: Actor): Promise<ControlReply>;
}

export interface WebServerOptions {
  config: WebConfig;
  logger: Logger;
  view: ScanView;
  live: LiveView;
  records?: Records | null;
  /** Folders whose files the page may serve when the records point at them (stored images, report images). */
  servedRoots?: string[];
  control?: WebControl | null;
  /** The appliance's health report. */
  status?: () => unknown;
  /** The scan queue (current, queued, last). */
  queue?: () => unknown;
}

const COOKIE = 'smartscope_session';
const STATIC: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};
const UID = /^[0-9A-Za-z-]{1,64}$/;
/** Scan commands the page may send, and the control command each becomes. */
const COMMANDS: Record<string, string> = { enqueue: 'scan-enqueue', pause: 'scan-pause', resume: 'scan-resume', abort: 'scan-abort' };

function staticDir(): string {
  // Beside this file when run from the sources; in the source tree when run from the compiled dist/.
  const here = fileURLToPath(new URL('./static/', import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL('../../../src/web/static/', import.meta.url));
}

export class WebServer {
  private server: Server | null = null;
  private readonly sessions: Sessions;
  private readonly limiter: RateLimiter;
  private readonly signIns: RateLimiter;
  private readonly assets = new Map<string, Buffer>();
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<ServerResponse>();
  /** Refused requests by reason. */
  readonly refused: Partial<Record<RefusalReason, number>> = {};
  requests = 0;
  private address: AddressInfo | null = null;
  private readonly log: Logger;
  private queueFn: (() => unknown) | undefined;

  constructor(private readonly o: WebServerOptions) {
    const c = o.config;
    this.sessions = new Sessions(c.auth.sessionTtlMin * 60_000);
    this.limiter = new RateLimiter(c.limits.requestsPerMinute);
    this.signIns = new RateLimiter(c.limits.signInsPerMinute);
    this.log = o.logger;
    this.queueFn = o.queue;
    const dir = staticDir();
    for (const name of Object.keys(STATIC)) this.assets.set(name, readFileSync(`${dir}${name}`));
  }

  /** Where the scan queue comes from, once the scan service runs. */
  setQueue(fn: () => unknown): void {
    this.queueFn = fn;
  }

  async listen(): Promise<{ url: string; address: string; port: number }> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.config.port, this.o.config.host, () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    const a = this.address;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { url: `http://${host}:${a.port}/`, address: a.address, port: a.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const r of this.streams) r.end();
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  stats(): Record<string, unknown> {
    return {
      requests: this.requests,
      refused: this.refused,
      streams: this.streams.size,
      liveViewers: this.o.live.viewers,
      liveFramesEncoded: this.o.live.encoded,
      droppedViewerFrames: this.o.live.dropped,
      events: this.o.view.counts,
    };
  }

  private refuse(res: ServerResponse, e: HttpError): void {
    if (e.reason) this.refused[e.reason] = (this.refused[e.reason] ?? 0) + 1;
    if (res.headersSent) return void res.destroy();
    sendJson(res, e.status, { error: e.message }, e.status === 429 ? { 'Retry-After': 60 } : e.status === 405 ? { Allow: 'GET, POST' } : {});
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    try {
      await this.route(req, res);
    } catch (err) {
      if (err instanceof HttpError) {
        this.refuse(res, err);
        // Do not read the rest of a body that was refused for its size.
        if (err.status === 413) res.once('finish', () => req.destroy());
        return;
      }
      this.log.error({ err: (err as Error).message, url: req.url?.slice(0, 200) }, 'web request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }

  private client(req: IncomingMessage): string {
    return req.socket.remoteAddress ?? 'unknown';
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const c = this.o.config;
    // On loopback, only loopback names: a page from elsewhere that rebinds its own name to 127.0.0.1 is refused.
    if (isLoopback(c.host) && !isLoopback(hostName(req.headers.host))) throw new HttpError(403, 'unexpected Host header', 'host');
    if (!this.limiter.take(this.client(req))) throw new HttpError(429, 'too many requests; wait a minute', 'rate');
    const raw = req.url ?? '/';
    // Paths are matched as given: no decoding, no dot segments, no backslashes, so nothing can name a file outside.
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    if (!/^\/[A-Za-z0-9._\-/]*$/.test(path) || path.includes('..') || path.includes('//')) throw new HttpError(400, 'malformed path', 'bad-path');
    const m = req.method ?? 'GET';
    if (m === 'GET' || m === 'HEAD') return this.get(req, res, path, params);
    if (m === 'POST') return this.post(req, res, path);
    throw new HttpError(405, `method ${m.slice(0, 16)} not allowed`, 'method');
  }

  private async get(req: IncomingMessage, res: ServerResponse, path: string, params: URLSearchParams): Promise<void> {
    const seg = path.split('/').filter(Boolean);
    if (path === '/') return sendBytes(res, STATIC['index.html']!, this.assets.get('index.html')!);
    if (seg[0] === 'static' && seg.length === 2 && STATIC[seg[1]!]) return sendBytes(res, STATIC[seg[1]!]!, this.assets.get(seg[1]!)!, 'no-cache');
    if (seg[0] !== 'api') throw new HttpError(404, 'not found', 'not-found');
    const r = this.o.records;
    switch (seg[1]) {
      case 'session': {
        const s = this.session(req);
        return sendJson(res, 200, { signedIn: !!s, user: s?.user ?? null, csrf: s?.csrf ?? null, signInEnabled: !!this.o.config.auth.passwordHash });
      }
      case 'current':
        if (seg.length === 2) return sendJson(res, 200, this.o.view.current);
        if (seg[2] === 'tiles' && seg.length === 4 && /^\d{1,6}\.jpg$/.test(seg[3]!)) {
          const img = this.o.view.tileImage(Number(seg[3]!.slice(0, -4)));
          if (!img) throw new HttpError(404, 'no such field image', 'not-found');
          return sendBytes(res, 'image/jpeg', img, 'private, max-age=3600');
        }
        break;
      case 'events':
        if (seg.length === 2) return this.events(req, res);
        break;
      case 'live.mjpg':
        return this.mjpeg(req, res);
      case 'live.json': {
        const f = this.o.live.latest;
        if (!f) throw new HttpError(404, 'no live frame yet', 'not-found');
        return sendJson(res, 200, {
          sequence: f.sequence,
          at: f.at,
          objective: f.objective,
          pose: f.pose,
          width: f.width,
          height: f.height,
          encoded: this.o.live.encoded,
          dropped: this.o.live.dropped,
        });
      }
      case 'live.jpg': {
        const f = this.o.live.latest;
        if (!f) throw new HttpError(404, 'no live frame yet', 'not-found');
        return sendBytes(res, 'image/jpeg', f.jpeg);
      }
      case 'status':
        return sendJson(res, 200, {
          appliance: this.o.status?.() ?? null,
          queue: this.queueFn?.() ?? null,
          web: this.stats(),
          signInEnabled: !!this.o.config.auth.passwordHash,
        });
      case 'scans':
        if (!r) throw new HttpError(404, 'no records database', 'not-found');
        if (seg.length === 2) {
          const f = (k: string): string | undefined => params.get(k)?.slice(0, 128) || undefined;
          return sendJson(res, 200, listScans(r, { sample: f('sample'), lot: f('lot'), recipe: f('recipe') }));
        }
        if (seg.length >= 3 && UID.test(seg[2]!)) {
          const scan = scanRow(r, seg[2]!);
          if (!scan) throw new HttpError(404, 'no such scan', 'not-found');
          if (seg.length === 3) return sendJson(res, 200, { ...scan, defects: scanDefects(r, scan.id) });
          if (seg.length === 4 && seg[3] === 'report.jpg') {
            const p = typeof scan.summary?.reportImage === 'string' ? scan.summary.reportImage : null;
            return this.file(res, p, 'image/jpeg');
          }
        }
        break;
      case 'defects':
        if (seg.length >= 3 && UID.test(seg[2]!)) {
          const uid = seg[2]!;
          if (seg.length === 4 && seg[3] === 'image.jpg') {
            const img = this.o.view.defectImage(uid);
            if (img) return sendBytes(res, 'image/jpeg', img, 'private, max-age=3600');
            const d = r ? defectDetail(r, uid) : null;
            if (typeof d?.imageId === 'number') return this.image(res, d.imageId, { outline: d.outline as string | null, className: String(d.class) });
            throw new HttpError(404, 'no image for this defect', 'not-found');
          }
          if (seg.length === 3) {
            const live = this.o.view.current.defects.find((d) => d.eventId === uid) ?? null;
            const rec = r ? defectDetail(r, uid) : null;
            if (!live && !rec) throw new HttpError(404, 'no such defect', 'not-found');
            return sendJson(res, 200, { uid, live, record: rec, classes: this.o.view.current.classes });
          }
        }
        break;
      case 'images':
        if (seg.length === 3 && /^\d{1,12}$/.test(seg[2]!)) return this.image(res, Number(seg[2]));
        break;
    }
    throw new HttpError(404, 'not found', 'not-found');
  }

  /** A stored records image, as PNG (raw crops are grey, 8 or 16 bit); a defect's crop with its recorded outline drawn. */
  private async image(res: ServerResponse, id: number, defect?: { outline: string | null; className: string }): Promise<void> {
    const r = this.o.records;
    const row = r ? imageRow(r, id) : null;
    if (!row || row.deletedAt) throw new HttpError(404, 'no such image (or deleted by retention)', 'not-found');
    const real = inside(row.path, this.o.servedRoots ?? []);
    if (!real) throw new HttpError(404, 'image outside the served folders', 'bad-path');
    const data = await readFile(real);
    if (row.format === 'jpeg') return sendBytes(res, 'image/jpeg', data, 'private, max-age=3600');
    if (row.format === 'png') return sendBytes(res, 'image/png', data, 'private, max-age=3600');
    if (row.format !== 'raw' || !row.width || !row.height) throw new HttpError(404, `images of format ${row.format} are not shown`, 'not-found');
    const n = row.width * row.height;
    let grey: Buffer;
    if (data.length === n * 2) {
      const u16 = new Uint16Array(data.buffer, data.byteOffset, n);
      let max = 1;
      for (let i = 0; i < n; i++) max = Math.max(max, u16[i]!);
      grey = Buffer.alloc(n);
      for (let i = 0; i < n; i++) grey[i] = (u16[i]! * 255) / max;
    } else if (data.length === n) grey = data;
    else throw new HttpError(404, 'stored image does not match its recorded size', 'not-found');
    if (defect?.outline) {
      const o = JSON.parse(defect.outline) as { bboxPx: [number, number, number, number]; contourPx?: Array<[number, number]> };
      const classes = this.o.view.current.classes;
      const colour = CLASS_COLOURS[Math.max(0, classes.indexOf(defect.className)) % CLASS_COLOURS.length]!;
      const jpeg = await annotate(
        { pixels: grey, width: row.width, height: row.height, bitDepth: 8, bboxPx: o.bboxPx, ...(o.contourPx ? { contourPx: o.contourPx } : {}) },
        colour,
      );
      return sendBytes(res, 'image/jpeg', jpeg, 'private, max-age=3600');
    }
    const png = await sharp(grey, { raw: { width: row.width, height: row.height, channels: 1 } })
      .png()
      .toBuffer();
    return sendBytes(res, 'image/png', png, 'private, max-age=3600');
  }

  private async file(res: ServerResponse, path: string | null, type: string): Promise<void> {
    const real = path ? inside(path, this.o.servedRoots ?? []) : null;
    if (!real) throw new HttpError(404, 'no such file', 'not-found');
    return sendBytes(res, type, await readFile(real), 'private, max-age=3600');
  }

  private openStream(res: ServerResponse): () => void {
    if (this.streams.size >= this.o.config.limits.maxViewers) throw new HttpError(503, `already ${this.streams.size} open streams`, 'viewers');
    this.streams.add(res);
    return () => this.streams.delete(res);
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    const close = this.openStream(res);
    headers(res, 'text/event-stream; charset=utf-8', { 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.writeHead(200);
    res.write('retry: 2000\n\n');
    const send = (e: PageEvent): void => {
      // A page that cannot keep up is disconnected (it reconnects and reloads the state), never buffered without end.
      if (res.writableLength > 1 << 20) return void res.destroy();
      res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...(e.data as object), at: e.at })}\n\n`);
    };
    // What the live view shows (objective, stage pose), at most once a second: the caption under the live image.
    let lastLive = -Infinity;
    const live = (f: LiveFrame): void => {
      if (f.at - lastLive < 1000 || res.writableLength > 0) return;
      lastLive = f.at;
      res.write(`event: live\ndata: ${JSON.stringify({ sequence: f.sequence, at: f.at, objective: f.objective, pose: f.pose })}\n\n`);
    };
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    this.o.view.on('event', send);
    this.o.live.on('frame', live);
    const done = (): void => {
      clearInterval(keepAlive);
      this.o.view.off('event', send);
      this.o.live.off('frame', live);
      close();
    };
    req.on('close', done);
    res.on('close', done);
  }

  private mjpeg(req: IncomingMessage, res: ServerResponse): void {
    const close = this.openStream(res);
    const unwatch = this.o.live.watch();
    headers(res, 'multipart/x-mixed-replace; boundary=frame', { 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.writeHead(200);
    const send = (f: LiveFrame): void => {
      // One frame in flight per viewer: a frame the connection has not taken yet makes this one a drop.
      if (res.writableLength > 0) {
        this.o.live.dropped++;
        return;
      }
      res.write(`Content-Type: image/jpeg\r\nContent-Length: ${f.jpeg.length}\r\n\r\n`);
      res.write(f.jpeg);
      // The boundary right after the frame: browsers show a part only once the next boundary has arrived.
      res.write('\r\n--frame\r\n');
    };
    res.write('--frame\r\n');
    if (this.o.live.latest) send(this.o.live.latest);
    this.o.live.on('frame', send);
    const done = (): void => {
      this.o.live.off('frame', send);
      unwatch();
      close();
    };
    req.on('close', done);
    res.on('close', done);
  }

  private session(req: IncomingMessage): Session | null {
    return this.sessions.get(cookies(req)[COOKIE]);
  }

  /** Who is acting: a session whose CSRF token the request echoes, or a valid API token. */
  private actor(req: IncomingMessage): Actor {
    const from = `web ${this.client(req)}`;
    const auth = String(req.headers.authorization ?? '');
    if (auth.startsWith('Bearer ')) {
      const hash = this.o.config.auth.tokenHash;
      if (!hash || !verifySecret(auth.slice(7), hash)) throw new HttpError(401, 'bad API token', 'bad-credentials');
      return { user: 'api-token', from, via: 'web' };
    }
    const s = this.session(req);
    if (!s) throw new HttpError(401, 'sign in first', 'unauthenticated');
    const token = req.headers['x-csrf-token'];
    if (typeof token !== 'string' || !sameToken(token, s.csrf)) throw new HttpError(403, 'missing or wrong CSRF token', 'csrf');
    return { user: s.user, from, via: 'web' };
  }

  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new HttpError(403, 'bad Origin header', 'origin');
    }
    if (host !== req.headers.host) throw new HttpError(403, 'cross-origin request refused', 'origin');
  }

  private async post(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    this.checkOrigin(req);
    const seg = path.split('/').filter(Boolean);
    const max = this.o.config.limits.maxBodyBytes;
    if (path === '/api/login') {
      if (!this.signIns.take(this.client(req))) throw new HttpError(429, 'too many sign-in attempts; wait a minute', 'rate');
      const body = await readJson(req, max);
      const hash = this.o.config.auth.passwordHash;
      if (!hash) throw new HttpError(403, 'sign-in is not configured (web.auth.passwordHash)', 'bad-credentials');
      const user = typeof body.user === 'string' ? body.user.trim() : '';
      if (!/^[\p{L}\p{N}._ -]{1,64}$/u.test(user))
        throw new HttpError(400, 'user must be 1–64 letters, digits, spaces, dots, dashes or underscores', 'bad-json');
      if (typeof body.password !== 'string' || body.password.length > 1024 || !verifySecret(body.password, hash)) {
        this.log.warn({ user, from: this.client(req) }, 'web sign-in refused');
        throw new HttpError(401, 'wrong password', 'bad-credentials');
      }
      const s = this.sessions.create(user, `web ${this.client(req)}`);
      this.log.info({ user, from: this.client(req) }, 'web sign-in');
      return sendJson(
        res,
        200,
        { signedIn: true, user, csrf: s.csrf },
        { 'Set-Cookie': `${COOKIE}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${this.o.config.auth.sessionTtlMin * 60}` },
      );
    }
    const actor = this.actor(req);
    const body = await readJson(req, max);
    if (path === '/api/logout') {
      const id = cookies(req)[COOKIE];
      if (id) this.sessions.delete(id);
      return sendJson(res, 200, { signedIn: false }, { 'Set-Cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
    }
    if (seg[0] === 'api' && seg[1] === 'control' && seg.length === 3 && COMMANDS[seg[2]!]) {
      if (!this.o.control) throw new HttpError(404, 'no scan control here', 'not-found');
      const args: Record<string, unknown> = {};
      for (const k of ['sampleId', 'lot', 'recipe', 'recipeVersion', 'reason']) if (typeof body[k] === 'string') args[k] = (body[k] as string).slice(0, 256);
      const reply = await this.o.control.invoke(COMMANDS[seg[2]!]!, args, actor);
      return sendJson(res, reply.status === 'ok' ? 200 : 409, reply);
    }
    if (seg[0] === 'api' && seg[1] === 'defects' && seg.length === 4 && UID.test(seg[2]!) && seg[3] === 'review') {
      const r = this.o.records;
      if (!r) throw new HttpError(404, 'no records database', 'not-found');
      const verdict = body.verdict;
      if (verdict !== 'confirmed' && verdict !== 'false' && verdict !== 'reclassified')
        throw new HttpError(400, 'verdict must be confirmed, false or reclassified', 'bad-json');
      const cls = typeof body.class === 'string' ? body.class.slice(0, 64) : null;
      if (verdict === 'reclassified' && (!cls || !this.o.view.current.classes.concat(knownClasses(r)).includes(cls)))
        throw new HttpError(400, 'reclassified needs one of the known classes', 'bad-json');
      try {
        const row = r.reviewDefect(seg[2]!, { verdict, class: cls, note: typeof body.note === 'string' ? body.note.slice(0, 500) : null }, actor);
        this.o.view.publish('review', row);
        return sendJson(res, 200, row);
      } catch (err) {
        if ((err as { notFound?: boolean }).notFound) throw new HttpError(404, (err as Error).message, 'not-found');
        throw new HttpError(400, (err as Error).message, 'bad-json');
      }
    }
    throw new HttpError(404, 'not found', 'not-found');
  }
}

function knownClasses(r: Records): string[] {
  return (r.db.prepare('SELECT DISTINCT class FROM defects LIMIT 64').all() as Array<{ class: string }>).map((x) => x.class);
}
