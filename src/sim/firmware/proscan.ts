/**
 * A Prior ProScan controller for the twin, after the ProScan III command set (standard mode, COMP 0): CR-terminated
 * commands with comma (or space, tab, =, ;, :) separated arguments; motion commands answer "R" as soon as they are
 * accepted and queue behind the move in progress (up to 100); `$` reports which axes are busy as a decimal bitmask
 * (1 X, 2 Y, 4 Z); settings answer "0"; errors answer "E,n". Positions are counts at the RES resolution (µm per count).
 * Speed and acceleration (SMS/SAS for XY, SMZ/SAZ for Z) are percentages of what the stage physics can do.
 * Simplifications: one coordinated move at a time (XY and Z do not run independently), no joystick, no S-curve.
 */
import type { Clock } from '../../kernel/clock.js';
import { AXES, type StagePhysics, type Vec3 } from '../stage-physics.js';
import { SerialFirmware, type FirmwareBaseOptions } from './serial-firmware.js';

export interface ProScanFirmwareOptions extends FirmwareBaseOptions {
  /** Start with the counters zeroed at the physics origin (the twin starts indexed). */
  startHomed?: boolean;
  queueSize?: number;
}

interface Job {
  kind: 'move' | 'index';
  target: Vec3;
}

const CR = 0x0d;

export class ProScanFirmware extends SerialFirmware {
  protected readonly terminator = CR;
  /** µm per reported count: [XY, Z]. */
  private res: [number, number] = [1, 1];
  private pct = { SMS: 100, SAS: 100, SMZ: 100, SAZ: 100 };
  private compat = 0;
  private readonly baseAccel: Vec3;
  private readonly queueSize: number;
  private queue: Job[] = [];
  private running: { job: Job; from: Vec3; end: number } | null = null;
  private indexing = false;
  private limitHits = 0;
  private alarmDue: number | null = null;
  private lineBuf: number[] = [];

  constructor(physics: StagePhysics, clock: Clock, opts: ProScanFirmwareOptions = {}) {
    super(physics, clock, opts);
    this.baseAccel = AXES.map((a) => physics.spec[a].accelUmPerS2) as Vec3;
    this.queueSize = opts.queueSize ?? 100;
    if (!(opts.startHomed ?? true)) this.origin = physics.commandedAt(clock.now());
  }

  /** Busy bitmask as `$` would report it now. */
  busyBits(): number {
    this.advance(this.clock.now(), false);
    let bits = 0;
    const jobs = this.running ? [this.running, ...this.queue.map((job) => ({ job, from: this.running!.job.target }))] : [];
    for (const r of jobs) {
      AXES.forEach((_, i) => {
        if (Math.abs(r.job.target[i]! - r.from[i]!) > 1e-9) bits |= 1 << i;
      });
    }
    if (this.running && bits === 0) bits = this.running.job.kind === 'index' ? 3 : 0;
    return bits;
  }

  protected onAttach(): void {
    this.lineBuf = [];
  }

  protected input(chunk: Buffer): void {
    for (const b of chunk) {
      if (b === CR) {
        const raw = Buffer.from(this.lineBuf).toString('latin1').replace(/\n/g, '');
        this.lineBuf = [];
        if (raw.trim() === '') continue;
        this.logReceived(raw);
        this.advance(this.clock.now(), false);
        const reply = this.command(raw.trim());
        for (const line of reply) this.sendLine(`${line}\r`);
        continue;
      }
      if (this.lineBuf.length < 256) this.lineBuf.push(b);
    }
  }

  // ---- time -------------------------------------------------------------------------------------------------------

  protected advance(now: number, _own: boolean): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const r = this.running;
      if (this.alarmDue !== null && this.alarmDue <= now && (!r || this.alarmDue <= r.end)) {
        this.limitHit(this.alarmDue);
        continue;
      }
      if (r && r.end <= now) {
        this.running = null;
        if (r.job.kind === 'index') {
          // Indexed: the counters read zero at the XY travel limits.
          const p = this.physics.commandedAt(r.end);
          this.origin = [p[0], p[1], this.origin[2]];
          this.indexing = false;
        }
        this.startNext(r.end);
        continue;
      }
      if (!r && this.queue.length > 0) {
        this.startNext(now);
        continue;
      }
      break;
    }
    const next = Math.min(this.running?.end ?? Infinity, this.alarmDue ?? Infinity);
    if (Number.isFinite(next)) this.wakeAt(next);
  }

  private startNext(t: number): void {
    const job = this.queue.shift();
    if (!job) return;
    const from = this.physics.commandedAt(t);
    const xy = Math.abs(job.target[0] - from[0]) + Math.abs(job.target[1] - from[1]) > 1e-9;
    const z = Math.abs(job.target[2] - from[2]) > 1e-9;
    const pct = Math.min(xy ? this.pct.SMS : 100, z ? this.pct.SMZ : 100);
    const f = this.faults.alarmDuringNextMove;
    if (f && job.kind === 'move') {
      this.faults.alarmDuringNextMove = null;
      this.alarmDue = t + f.afterMs;
    }
    this.running = { job, from, end: this.physics.moveTo(job.target, t, pct / 100) };
  }

  private limitHit(t: number): void {
    this.alarmDue = null;
    const r = this.running;
    if (r) {
      const c = this.physics.commandedAt(t);
      const d = AXES.map((_, i) => r.job.target[i]! - c[i]!);
      const i = d.map(Math.abs).indexOf(Math.max(...d.map(Math.abs)));
      // "=" bits per axis: +limit at 2i, −limit at 2i+1 (as the stage sees it).
      const plus = d[i]! * this.sign[i]! > 0;
      this.limitHits |= 1 << (2 * i + (plus ? 0 : 1));
    }
    this.physics.halt(t);
    this.running = null;
    this.queue = [];
  }

  // ---- commands ---------------------------------------------------------------------------------------------------

  private counts(p: Vec3): number[] {
    const c = this.toCtrlUm(p);
    return [Math.round(c[0] / this.res[0]), Math.round(c[1] / this.res[0]), Math.round(c[2] / this.res[1])];
  }

  private fromCounts(c: number[]): Vec3 {
    return this.toPhysUm([c[0]! * this.res[0], c[1]! * this.res[0], c[2]! * this.res[1]]);
  }

  private plannedCounts(): number[] {
    const last =
      this.queue.length > 0 ? this.queue[this.queue.length - 1]!.target : this.running ? this.running.job.target : this.physics.commandedAt(this.clock.now());
    return this.counts(last);
  }

  private command(line: string): string[] {
    const [head, ...args] = line.split(/[ ,\t=;:]+/);
    const cmd = (head ?? '').toUpperCase();
    if (cmd === '' && line.startsWith('=')) return [this.limitHitsReply()];
    if (cmd === '$') return [String(this.busyBits())];
    if (cmd === '?') return ['PROSCAN INFORMATION', 'DSP_1 IS 4-AXIS STEPPER VERSION 1.0 (twin)', 'STAGE = TWIN', 'FOCUS = TWIN', 'END'];
    if (cmd === 'VERSION') return ['100'];
    if (cmd === 'SERIAL') return ['0'];
    if (cmd === 'I' || cmd === 'K') {
      const now = this.clock.now();
      this.queue = [];
      if (this.running) {
        if (cmd === 'I') this.running = { ...this.running, end: this.physics.stop(now) };
        else {
          this.physics.halt(now);
          this.running = null;
        }
      }
      this.indexing = false;
      this.advance(now, false);
      return ['R'];
    }
    const nums: number[] = [];
    for (const a of args) {
      if (!/^[-+]?\d+(\.\d+)?$/.test(a) && !(cmd === 'RES' && nums.length === 0 && /^[SXYZ]$/i.test(a))) return ['E,4'];
      nums.push(/^[SXYZ]$/i.test(a) ? NaN : Number(a));
    }
    switch (cmd) {
      case 'COMP':
        if (nums.length === 0) return [String(this.compat)];
        if (nums[0] !== 0 && nums[0] !== 1) return ['E,10'];
        this.compat = nums[0]!;
        return ['0'];
      case 'P':
        if (nums.length === 0) return [this.counts(this.physics.commandedAt(this.clock.now())).join(',')];
        if (nums.length !== 3 || !nums.every(Number.isInteger)) return ['E,4'];
        return this.setCounts(nums);
      case 'PS':
        return [this.counts(this.physics.commandedAt(this.clock.now())).slice(0, 2).join(',')];
      case 'PX':
      case 'PY':
      case 'PZ':
        return [String(this.counts(this.physics.commandedAt(this.clock.now()))['XYZ'.indexOf(cmd[1]!)])];
      case 'G':
      case 'GR': {
        if (nums.length < 2 || nums.length > 3 || !nums.every(Number.isInteger)) return ['E,4'];
        const base = this.plannedCounts();
        const t = [0, 1, 2].map((i) => (i < nums.length ? (cmd === 'GR' ? base[i]! + nums[i]! : nums[i]!) : base[i]!));
        return this.enqueue(t);
      }
      case 'GX':
      case 'GY':
      case 'GZ':
      case 'V': {
        if (nums.length !== 1 || !Number.isInteger(nums[0])) return ['E,4'];
        const t = this.plannedCounts();
        t[cmd === 'V' ? 2 : 'XYZ'.indexOf(cmd[1]!)] = nums[0]!;
        return this.enqueue(t);
      }
      case 'M':
        return this.enqueue([0, 0, 0]);
      case 'Z':
        return this.setCounts([0, 0, 0]);
      case 'SIS':
        if (this.queue.length >= this.queueSize) return ['E,18'];
        this.indexing = true;
        this.queue.push({ kind: 'index', target: [this.physics.spec.x.minUm, this.physics.spec.y.minUm, this.physics.commandedAt(this.clock.now())[2]] });
        this.advance(this.clock.now(), false);
        return ['R'];
      case 'RES': {
        const which = (args[0] ?? '').toUpperCase();
        if (!/^[SXYZ]$/.test(which)) return ['E,4'];
        const i = which === 'Z' ? 1 : 0;
        if (nums.length === 1) return [String(this.res[i])];
        if (nums.length !== 2 || !(nums[1]! > 0)) return ['E,11'];
        if (this.busyBits() !== 0) return ['E,2'];
        this.res[i] = nums[1]!;
        return ['0'];
      }
      case 'SMS':
      case 'SAS':
      case 'SMZ':
      case 'SAZ':
        if (nums.length === 0) return [String(this.pct[cmd])];
        if (nums.length !== 1 || !Number.isInteger(nums[0]) || nums[0]! < 1 || nums[0]! > 100) return ['E,10'];
        this.pct[cmd] = nums[0]!;
        if (cmd === 'SAS' || cmd === 'SAZ') {
          for (const i of cmd === 'SAS' ? [0, 1] : [2]) this.physics.spec[AXES[i]!].accelUmPerS2 = (this.baseAccel[i]! * nums[0]!) / 100;
        }
        return ['0'];
      case 'LMT':
        return ['0'];
      case 'J':
      case 'H':
        return ['0'];
      default:
        return ['E,5'];
    }
  }

  private setCounts(c: number[]): string[] {
    if (this.busyBits() !== 0) return ['E,2'];
    const p = this.physics.commandedAt(this.clock.now());
    const want = this.fromCounts(c);
    // The counters change, the stage does not: move the origin by the difference.
    this.origin = [0, 1, 2].map((i) => this.origin[i]! + (p[i]! - want[i]!)) as Vec3;
    return ['0'];
  }

  private enqueue(c: number[]): string[] {
    if (this.queue.length >= this.queueSize) return ['E,18'];
    if (this.indexing) return ['E,2'];
    const target = this.fromCounts(c);
    try {
      this.physics.checkLimits(target);
    } catch {
      const i = AXES.findIndex((a, k) => target[k]! < this.physics.spec[a].minUm || target[k]! > this.physics.spec[a].maxUm);
      return [`E,${10 + Math.max(0, i)}`];
    }
    this.queue.push({ kind: 'move', target });
    this.advance(this.clock.now(), false);
    return ['R'];
  }

  private limitHitsReply(): string {
    const h = this.limitHits;
    this.limitHits = 0;
    return h.toString(16).toUpperCase();
  }
}
