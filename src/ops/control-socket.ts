/**
 * The daemon's local control channel: a unix socket in the state directory (`<stateDir>/control.sock`, mode 0660) on
 * which `smartscope scan …` talks to the running daemon — the same commands the MES sends over MQTT, for a technician
 * on an SSH session. One JSON line per request (`{command, args, actor}`) and one per reply (`{status, data, error}`).
 * A malformed or oversized request gets an error reply and is counted; it never stops the daemon.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Actor } from '../kernel/actor.js';
import type { Logger } from '../kernel/logger.js';

export type ControlHandler = (args: Record<string, unknown>, actor: Actor) => unknown;

export interface ControlReply {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
}

const MAX_LINE = 64 * 1024;

export class ControlServer {
  private server: Server | null = null;
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly sockets = new Set<Socket>();
  /** Requests that were not valid JSON, too long, or named no known command. */
  rejected = 0;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    /** Every request that reached a handler, for the operator-command records. */
    private readonly onCommand?: (actor: Actor, command: string, args: unknown, outcome: 'ok' | 'error', detail?: string) => void,
    /** While the daemon starts, why a command that is not registered yet cannot run (null once it runs). */
    private readonly starting?: () => string | null,
  ) {}

  handle(command: string, fn: ControlHandler): () => void {
    this.handlers.set(command, fn);
    return () => {
      if (this.handlers.get(command) === fn) this.handlers.delete(command);
    };
  }

  async listen(): Promise<void> {
    if (existsSync(this.path)) {
      if (await answers(this.path)) throw new Error(`another smartscope daemon is already listening on ${this.path}`);
      unlinkSync(this.path); // left by a daemon that died
    }
    const server = createServer((s) => this.connection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o660);
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private connection(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        this.rejected++;
        reply(s, { status: 'error', error: `request longer than ${MAX_LINE} bytes` });
        s.end();
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.request(line).then((r) => reply(s, r));
      }
    });
  }

  private async request(line: string): Promise<ControlReply> {
    let req: { command?: unknown; args?: unknown; actor?: Partial<Actor> };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      this.rejected++;
      this.log.warn({ bytes: line.length }, 'control request is not JSON');
      return { status: 'error', error: 'request is not a JSON object' };
    }
    const command = typeof req?.command === 'string' ? req.command : '';
    const fn = this.handlers.get(command);
    const starting = this.starting?.() ?? null;
    if (!fn && starting) return { status: 'error', error: `the daemon is still starting (${starting}); try again in a moment` };
    if (!fn) {
      this.rejected++;
      this.log.warn({ command: command.slice(0, 64) }, 'unknown control command');
      return { status: 'error', error: `unknown command ${JSON.stringify(command.slice(0, 64))}; known: ${[...this.handlers.keys()].sort().join(', ')}` };
    }
    const args = req.args && typeof req.args === 'object' && !Array.isArray(req.args) ? (req.args as Record<string, unknown>) : {};
    const a = req.actor ?? {};
    return this.invoke(command, args, { user: String(a.user ?? 'unknown').slice(0, 64), from: String(a.from ?? 'local').slice(0, 128), via: 'cli' });
  }

  /** Runs a registered command for another local front end (the web page), recorded like a socket request. */
  async invoke(command: string, args: Record<string, unknown>, actor: Actor): Promise<ControlReply> {
    const fn = this.handlers.get(command);
    if (!fn)
      return {
        status: 'error',
        error: this.starting?.() ? 'the daemon is still starting; try again in a moment' : `unknown command ${JSON.stringify(command.slice(0, 64))}`,
      };
    try {
      const data = await fn(args, actor);
      this.onCommand?.(actor, command, args, 'ok');
      return { status: 'ok', data };
    } catch (err) {
      const msg = (err as Error).message;
      this.onCommand?.(actor, command, args, 'error', msg);
      this.log.warn({ command, err: msg, user: actor.user, from: actor.from }, 'control command refused');
      return { status: 'error', error: msg };
    }
  }
}

function reply(s: Socket, r: ControlReply): void {
  if (!s.destroyed) s.write(`${JSON.stringify(r)}\n`);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Sends one command to the daemon and waits for its reply. */
export function controlRequest(path: string, command: string, args: Record<string, unknown>, actor: Actor, timeoutMs = 10_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`the daemon did not answer "${command}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.once('connect', () => c.write(`${JSON.stringify({ command, args, actor })}\n`));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as ControlReply);
      } catch {
        reject(new Error('the daemon sent a reply that is not JSON'));
      }
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? 'no daemon is running there (systemctl status smartscope)'
          : err.code === 'EACCES'
            ? 'permission denied (join the smartscope group or use sudo)'
            : err.message;
      reject(new Error(`cannot reach the daemon on ${path}: ${why}`));
    });
  });
}
