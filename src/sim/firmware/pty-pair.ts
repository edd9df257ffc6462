/**
 * A pair of connected pseudo-terminals made by socat (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`): the
 * firmware simulator opens one end and the driver opens the other with serialport, exactly as it would a USB serial
 * adapter. Stopping socat makes both devices vanish (the driver sees a disconnection); starting it again brings them
 * back under the same paths (a re-plugged cable).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class PtyPair {
  private proc: ChildProcess | null = null;
  private readonly onExit = (): void => {
    this.proc?.kill('SIGKILL');
  };

  private constructor(
    readonly dir: string,
    /** The end the driver opens. */
    readonly hostPath: string,
    /** The end the firmware simulator opens. */
    readonly firmwarePath: string,
  ) {}

  static async create(): Promise<PtyPair> {
    const dir = await mkdtemp(join(tmpdir(), 'smartscope-pty-'));
    const pair = new PtyPair(dir, join(dir, 'host'), join(dir, 'firmware'));
    await pair.start();
    return pair;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** Starts socat and waits until both device links exist. */
  async start(): Promise<void> {
    if (this.proc) return;
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.firmwarePath}`, `pty,raw,echo=0,link=${this.hostPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === 'ENOENT' ? 'socat is not installed (apt-get install socat)' : `socat failed to start: ${err.message}`)),
      );
      proc.once('exit', (code) => reject(new Error(`socat exited (${code}) before the pty pair was ready: ${stderr.trim()}`)));
    });
    this.proc = proc;
    process.once('exit', this.onExit);
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = null;
    });
    const ready = (async () => {
      const t0 = Date.now();
      while (!(existsSync(this.hostPath) && existsSync(this.firmwarePath) && stderr.includes('starting data transfer loop'))) {
        if (Date.now() - t0 > 10_000) throw new Error(`socat did not create ${this.hostPath} within 10 s: ${stderr.trim()}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await Promise.race([ready, failed]);
    } catch (err) {
      this.stopNow();
      throw err;
    }
    failed.catch(() => undefined);
  }

  /** Stops socat: both devices disappear. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
    this.proc = null;
    process.off('exit', this.onExit);
  }

  private stopNow(): void {
    this.proc?.kill('SIGKILL');
    this.proc = null;
    process.off('exit', this.onExit);
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
