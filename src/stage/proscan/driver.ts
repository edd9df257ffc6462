/**
 * Stage driver for Prior ProScan controllers (ProScan II/III and OptiScan in standard mode).
 *
 * On connect: `COMP,0` (standard mode: motion commands answer "R" when accepted), `RES,s` / `RES,z` so positions come
 * in counts of 1/stepsPerUm µm, the current speed and acceleration percentages (SMS, SAS).
 * A move: `G,x,y[,z]` (or `GR`, `GX`, `GY`, `GZ`) answered by "R", then `$` polled until the busy bitmask is 0. The
 * first poll waits for the time the move should take at the configured speed and acceleration, then polls at ≤ 5 Hz.
 * Then the settle time and `P` to read the position back. Stops: `I` (decelerate), `K` (kill at once).
 */
import type { Duplex } from 'node:stream';
import { realDelay } from '../abort.js';
import { AsciiCommandChannel } from '../ascii/command-channel.js';
import type { StageConfig } from '../config.js';
import { SerialStage, type SerialStageDeps } from '../serial-stage.js';
import { stageError, STAGE_AXES, type MotionSettings, type StageAxis, type StagePose } from '../stage.js';
import type { ControllerVec } from '../units.js';
import { PROSCAN_DIALECT, REPLY } from './parser.js';
import { CMD, goBy, goTo, percent, resolution, type Counts } from './writer.js';

/** Closed-form time (ms) of a rest-to-rest move of `len` µm at speed v and acceleration a (trapezoid or triangle). */
function moveMs(len: number, v: number, a: number): number {
  if (len <= 0) return 0;
  const s = len >= (v * v) / a ? len / v + v / a : 2 * Math.sqrt(len / a);
  return s * 1000;
}

export class ProScanStage extends SerialStage {
  readonly id: string;
  private ch: AsciiCommandChannel | null = null;
  /** SMS / SAS percentages set by setMotion (or found on the controller). */
  private speedPct = 100;
  private accelPct = 100;
  private zSpeedPct = 100;
  private zAccelPct = 100;
  /** SMS value the controller holds right now (a move's speedFraction may lower it temporarily). */
  private activeSpeedPct: number | null = null;
  private readonly counters = { ackTimeouts: 0, busyPolls: 0 };

  constructor(config: StageConfig, deps: SerialStageDeps) {
    super(config, deps);
    this.id = `proscan:${deps.transport.description}`;
  }

  protected unitsPerUm(axis: StageAxis): number {
    return this.config.axes[axis].stepsPerUm;
  }

  private channel(): AsciiCommandChannel {
    if (!this.ch) throw stageError('stage is not connected', { disconnected: true });
    return this.ch;
  }

  /** One exchange; queries (safe to repeat) are retried after a garbled or missing reply. */
  private request(cmd: string, expect: RegExp, query = false): Promise<string> {
    const ch = this.channel();
    return this.io(() => ch.request(cmd, { expect, retries: query ? this.config.retries : 0 }));
  }

  protected attach(stream: Duplex): void {
    const ch = new AsciiCommandChannel(stream, PROSCAN_DIALECT, { replyTimeoutMs: this.config.replyTimeoutMs });
    ch.on('garbage', (f: { text: string }) => this.log.debug({ text: f.text }, 'garbage from ProScan'));
    ch.on('stray', (text: string) => this.log.debug({ text }, 'ProScan line nobody waited for'));
    this.ch = ch;
    this.activeSpeedPct = null;
  }

  protected detach(err: Error): void {
    this.ch?.close(err);
    this.ch = null;
  }

  protected async handshake(signal: AbortSignal | undefined): Promise<void> {
    await this.request(CMD.standardMode, REPLY.zero, true);
    // A move left running when the link dropped finishes on its own (never re-sent); RES is refused while busy.
    await this.waitIdle(signal);
    await this.request(resolution('s', 1 / this.config.axes.x.stepsPerUm), REPLY.zero, true);
    await this.request(resolution('z', 1 / this.config.axes.z.stepsPerUm), REPLY.zero, true);
    this.speedPct = Number(await this.request('SMS', REPLY.int, true));
    this.accelPct = Number(await this.request('SAS', REPLY.int, true));
    this.zSpeedPct = Number(await this.request('SMZ', REPLY.int, true));
    this.zAccelPct = Number(await this.request('SAZ', REPLY.int, true));
    this.activeSpeedPct = this.speedPct;
  }

  protected async readRaw(_signal: AbortSignal | undefined): Promise<number[]> {
    const line = await this.request(CMD.position, REPLY.position, true);
    return line.split(',').map(Number);
  }

  protected async runMove(ctrl: ControllerVec, relative: boolean, speedFraction: number, target: Partial<StagePose>, signal: AbortSignal): Promise<void> {
    const counts: Counts = {};
    for (const a of STAGE_AXES) if (ctrl[a] !== undefined) counts[a] = Math.round(ctrl[a]!);
    const pct = Math.max(1, Math.min(100, Math.round(this.speedPct * speedFraction)));
    if (pct !== this.activeSpeedPct) {
      await this.request(percent('SMS', pct), REPLY.zero);
      this.activeSpeedPct = pct;
    }
    let cmd: string;
    if (relative) cmd = goBy(counts);
    else {
      try {
        cmd = goTo(counts);
      } catch {
        // No single command moves exactly this set of axes (x and z): send all three, the third read from the controller.
        const raw = await this.readRaw(signal);
        cmd = goTo({ x: counts.x ?? raw[0]!, y: counts.y ?? raw[1]!, z: counts.z ?? raw[2]! });
      }
    }
    const from = this.lastReported;
    try {
      await this.request(cmd, REPLY.ack);
    } catch (err) {
      if ((err as { code?: string }).code !== 'TIMEOUT') throw err;
      // The "R" was lost or late: the move may be running. Wait for the controller to be idle; the position read
      // afterwards decides whether the move happened (never re-sent blindly).
      this.counters.ackTimeouts++;
      this.log.warn({ cmd }, 'ProScan did not acknowledge a move; checking where the stage ends up');
    }
    const est = from ? this.estimateMs(from, target, pct) : 0;
    if (est > 0) await this.clock.sleep(est, signal);
    await this.waitIdle(signal);
  }

  /**
   * Expected duration of a move at the current settings (+2 %): the first `$` goes out then. A coordinated move runs at
   * the highest vector speed and acceleration at which no axis exceeds its own limit.
   */
  private estimateMs(from: StagePose, target: Partial<StagePose>, pct: number): number {
    const p = this.config.proscan;
    const d = STAGE_AXES.map((a) => (target[a] === undefined ? 0 : target[a]! - from[a]));
    const len = Math.hypot(...d);
    if (len === 0) return 0;
    const vmax = [p.maxSpeedUmPerS * pct, p.maxSpeedUmPerS * pct, p.zMaxSpeedUmPerS * this.zSpeedPct].map((v) => v / 100);
    const amax = [p.accelUmPerS2 * this.accelPct, p.accelUmPerS2 * this.accelPct, p.zAccelUmPerS2 * this.zAccelPct].map((v) => v / 100);
    let v = Infinity;
    let a = Infinity;
    d.forEach((di, i) => {
      const c = Math.abs(di) / len;
      if (c < 1e-12) return;
      v = Math.min(v, vmax[i]! / c);
      a = Math.min(a, amax[i]! / c);
    });
    return moveMs(len, v, a) * 1.02;
  }

  /** Polls `$` at ≤ pollHz until no axis is busy. */
  private async waitIdle(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      this.counters.busyPolls++;
      const bits = Number(await this.request(CMD.busy, REPLY.int, true));
      if ((bits & 7) === 0) return;
      await this.clock.sleep(this.pollMs, signal);
    }
  }

  protected async runHome(signal: AbortSignal | undefined): Promise<void> {
    await this.request(CMD.index, REPLY.ack);
    const timer = new AbortController();
    const stopTimer = (): void => timer.abort();
    signal?.addEventListener('abort', stopTimer, { once: true });
    const limit = this.clock
      .sleep(this.config.homingTimeoutS * 1000, timer.signal)
      .then(() => realDelay(this.config.replyTimeoutMs, timer.signal))
      .then(() => {
        throw stageError(`ProScan indexing did not finish within ${this.config.homingTimeoutS} s`, { code: 'TIMEOUT' });
      });
    limit.catch(() => undefined);
    try {
      await Promise.race([this.waitIdle(timer.signal), limit]);
    } finally {
      signal?.removeEventListener('abort', stopTimer);
      timer.abort();
    }
  }

  protected async runMotion(s: Partial<MotionSettings>, _signal: AbortSignal | undefined): Promise<MotionSettings> {
    const p = this.config.proscan;
    if (s.speedUmPerS !== undefined) {
      const pct = Math.max(1, Math.min(100, Math.round((s.speedUmPerS / p.maxSpeedUmPerS) * 100)));
      await this.request(percent('SMS', pct), REPLY.zero);
      this.speedPct = pct;
      this.activeSpeedPct = pct;
    }
    if (s.accelUmPerS2 !== undefined) {
      const pct = Math.max(1, Math.min(100, Math.round((s.accelUmPerS2 / p.accelUmPerS2) * 100)));
      await this.request(percent('SAS', pct), REPLY.zero);
      this.accelPct = pct;
    }
    return { speedUmPerS: (p.maxSpeedUmPerS * this.speedPct) / 100, accelUmPerS2: (p.accelUmPerS2 * this.accelPct) / 100 };
  }

  protected async haltControlled(): Promise<void> {
    if (!this.ch) return;
    await this.request(CMD.stop, REPLY.ack);
    await this.waitIdle(undefined);
  }

  protected async haltImmediate(): Promise<void> {
    if (!this.ch) return;
    await this.request(CMD.kill, REPLY.ack);
  }

  /** "=" reports (and clears) the limit switches hit since last asked: bit 2i is axis i's + end, 2i+1 its − end. */
  protected override async explainMiss(axis: StageAxis): Promise<string> {
    const bits = parseInt(await this.request(CMD.limitHits, REPLY.hex), 16);
    const i = STAGE_AXES.indexOf(axis);
    // Limits are reported in the controller's direction; name them in the stage's.
    const dir = this.config.axes[axis].direction;
    const ends: string[] = [];
    if (bits & (1 << (2 * i))) ends.push(dir > 0 ? '+' : '−');
    if (bits & (1 << (2 * i + 1))) ends.push(dir > 0 ? '−' : '+');
    return ends.length > 0 ? `limit switch hit at the ${ends.join(' and ')} end of ${axis}` : '';
  }

  protected protocolStats(): Record<string, number> {
    return { ...(this.ch?.stats ?? {}), ...this.counters };
  }
}
