/** Runs `smartscope run` as a child process with a stand-in for systemd's notification socket. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliJs, repoRoot } from './cli.js';

const receiverPy = fileURLToPath(new URL('./notify-receiver.py', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class NotifyReceiver {
  readonly messages: string[] = [];
  private proc: ChildProcess;
  constructor(readonly socket: string) {
    this.proc = spawn('/usr/bin/python3', [receiverPy, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l !== 'listening') this.messages.push(l.slice(l.indexOf(' ') + 1));
      if (lines.includes('listening')) this.ready = true;
    });
  }
  ready = false;
  async started(): Promise<void> {
    await until('notify receiver', () => this.ready, 10_000, 20);
  }
  /** Messages without the BARRIER=1 that systemd-notify adds after each. */
  states(): string[] {
    return this.messages.filter((m) => m !== 'BARRIER=1');
  }
  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

export class Daemon {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(config: string, env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, [cliJs, '-c', config, 'run'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
  }
  logLines(): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export async function getJson(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

export async function getText(port: number, path: string): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).text();
}

export function stateFile(stateDir: string, ...p: string[]): string {
  return join(stateDir, ...p);
}
