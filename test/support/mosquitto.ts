/**
 * A real mosquitto broker for tests: a generated config, a free loopback port, started and stopped by the test.
 * `stop()` is a clean SIGTERM, `kill()` a SIGKILL; `restart()` brings it back on the same port (outage tests);
 * `close()` stops it for good and removes its files.
 * Needs the Debian package `mosquitto` (scripts/bootstrap --test installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MosquittoOptions {
  /** Fixed port (default: a free one). */
  port?: number;
  /** TLS listener with these PEM files; `requireCertificate` asks clients for a certificate signed by `ca`. */
  tls?: { ca: string; cert: string; key: string; requireCertificate?: boolean };
  /** mosquitto_passwd file: anonymous clients are refused. */
  passwordFile?: string;
  aclFile?: string;
  /** Keep sessions and queued messages across a clean restart (mosquitto writes them on SIGTERM). */
  persistence?: boolean;
  /** Extra config lines. */
  extra?: string[];
}

export interface Mosquitto {
  readonly host: string;
  readonly port: number;
  /** mqtt://127.0.0.1:PORT or mqtts://localhost:PORT */
  readonly url: string;
  readonly running: boolean;
  /** Everything the broker wrote to stderr so far. */
  log(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the broker keeps its connections open but answers nothing (a hung broker). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    'per_listener_settings false',
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.passwordFile ? 'false' : 'true'}`,
    opts.persistence ? `persistence true\npersistence_location ${dir}/\nautosave_interval 0` : 'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'max_queued_messages 100000',
  ];
  // Started as root, mosquitto drops to the `mosquitto` user, which cannot read this test's private temp files.
  if (process.getuid?.() === 0) lines.push('user root');
  if (opts.tls) {
    lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    if (opts.tls.requireCertificate) lines.push('require_certificate true');
  }
  if (opts.passwordFile) lines.push(`password_file ${opts.passwordFile}`);
  if (opts.aclFile) lines.push(`acl_file ${opts.aclFile}`);
  lines.push(...(opts.extra ?? []));
  writeFileSync(conf, `${lines.join('\n')}\n`);

  let child: ChildProcess | null = null;
  let log = '';
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      log += d;
    });
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const spawnError = new Promise<never>((_, reject) => c.once('error', (e) => reject(new Error(`cannot start mosquitto: ${e.message}`))));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`mosquitto exited with code ${c.exitCode}:\n${log}`);
      if (await Promise.race([reachable(port), spawnError])) return;
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on port ${port} within 10 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    await exited;
    child = null;
  };

  // Never outlive the process that started it (a failed benchmark or a crashed test file).
  const reap = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', reap);
  await launch();
  const host = opts.tls ? 'localhost' : '127.0.0.1';
  return {
    host,
    port,
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://${host}:${port}`,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    log: () => log,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM');
      await launch();
    },
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
    close: async () => {
      process.removeListener('exit', reap);
      child?.kill('SIGCONT');
      await end('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
