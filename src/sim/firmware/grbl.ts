/**
 * A GRBL 1.1 controller for the twin, behaving the way the firmware does on the wire
 * (https://github.com/gnea/grbl/blob/master/doc/markdown/interface.md):
 * - a 128-byte receive buffer: bytes beyond it are lost (and counted), so a host that does not count characters
 *   corrupts its own lines; lines are taken out of the buffer only as fast as the firmware can act on them;
 * - a 15-block planner: a motion line is acknowledged as soon as it is planned, and waits (blocking the lines behind
 *   it) while the planner is full; `G4` waits until the planner is empty;
 * - motion on the stage physics (acceleration-limited, blocks run rest-to-rest), `Run` while it moves;
 * - real-time `?` `!` `~` Ctrl-X and jog cancel, picked out of the stream at once; `?` is ignored while homing and in
 *   a limit alarm, as GRBL does;
 * - alarms: a limit hit halts everything, reports `ALARM:N` + `[MSG:Reset to continue]` and ignores all but Ctrl-X;
 *   a reset while moving reports ALARM:3; power-up with homing enabled starts locked (`'$H'|'$X' to unlock`).
 * Simplifications: no junction blending between blocks, no work offsets (WCO is always 0), no spindle or coolant.
 */
import type { Clock } from '../../kernel/clock.js';
import { AXES, type StagePhysics, type Vec3 } from '../stage-physics.js';
import { normaliseLine, parseGcode, type ParsedBlock } from './grbl-gcode.js';
import { GrblSettings } from './grbl-settings.js';
import { GRBL_FAMILY_PROFILES, type GrblFamily, type GrblFamilyProfile } from './grbl-families.js';
import { formatStatus, queryReply } from './grbl-reports.js';
import { SerialFirmware, type FirmwareBaseOptions } from './serial-firmware.js';

export interface GrblFirmwareOptions extends FirmwareBaseOptions {
  /** Which firmware of the GRBL family to behave as (banner, reports, buffers, alarm timing); default gnea Grbl 1.1h. */
  family?: GrblFamily;
  /** $20 soft limits (targets only inside machine space −$13x…0); default on. */
  softLimits?: boolean;
  /** Lines left on the line from an earlier session: the host finds them ahead of the answer to its first line. */
  staleOnAttach?: string[];
  /** $100–$102. */
  stepsPerMm?: Vec3;
  /** $22. */
  homingEnabled?: boolean;
  /** Start with the position known and unlocked (the twin starts homed). */
  startHomed?: boolean;
  /** Reset on every new link: a board powered over USB that was re-plugged, or one reset by DTR when the port opens. */
  resetOnAttach?: boolean;
  /** $10 (bit 0: MPos, bit 1: buffer state). */
  statusMask?: number;
  rxBufferBytes?: number;
  plannerBlocks?: number;
  /**
   * Physics position (µm) of machine zero once homed. Default: as GRBL sets it, machine space is −$13x…0 with zero at
   * the end of travel the motor's + direction leads to (XY home toward −, $23 bits set, and read −$13x there; Z homes
   * toward + and reads 0).
   */
  homeOriginUm?: Vec3;
}

interface Block {
  target: Vec3;
  fraction: number;
  jog: boolean;
}

const LF = 0x0a;
const REALTIME = new Set([0x3f, 0x21, 0x7e, 0x18, 0x84, 0x85]);

export class GrblFirmware extends SerialFirmware {
  protected readonly terminator = LF;
  readonly settings: GrblSettings;
  readonly rxBufferBytes: number;
  readonly plannerBlocks: number;
  readonly profile: GrblFamilyProfile;
  /** Real-time bytes received (bounded), oldest first. */
  readonly realtimeReceived: number[] = [];
  private readonly homingOrigin: Vec3;
  private readonly staleOnAttach: string[];
  private stale: string[] = [];
  /** Homed since power-up (grblHAL reports it as `H:`). */
  private homed = false;
  /** A critical alarm's `[MSG:Reset to continue]` is due at this instrument time; a Ctrl-X before it is lost. */
  private resetMessageDue: number | null = null;
  private readonly resetOnAttach: boolean;
  private rx: number[] = [];
  private planner: Block[] = [];
  private runningEnd: number | null = null;
  private waiting: { kind: 'sync'; dwellMs: number } | { kind: 'motion'; block: Block } | null = null;
  private dwellEnd: number | null = null;
  /** null: unlocked; 0: locked at power-up (no code); N: ALARM:N. */
  private alarm: number | null = null;
  private critical = false;
  private limitPin = '';
  private hold: { phase: 0 | 1; end: number } | null = null;
  private homing: { phase: number; end: number } | null = null;
  private alarmDue: { at: number; code: number } | null = null;
  private modal = { inch: false, relative: false, motion: 0 as 0 | 1, feedMmPerMin: 0 };
  private reports = 0;
  private wcoNext = true;

  constructor(physics: StagePhysics, clock: Clock, opts: GrblFirmwareOptions = {}) {
    super(physics, clock, opts);
    this.profile = GRBL_FAMILY_PROFILES[opts.family ?? 'grbl'];
    // XY home toward their minimum (the motor's − end unless inverted), Z toward its maximum.
    const homeDirMask = AXES.reduce((m, _a, i) => ((i < 2 ? this.sign[i]! > 0 : this.sign[i]! < 0) ? m | (1 << i) : m), 0);
    this.settings = new GrblSettings(physics, opts.stepsPerMm ?? [1000, 1000, 10000], {
      statusMask: opts.statusMask ?? 1,
      homingEnabled: opts.homingEnabled ?? true,
      softLimits: opts.softLimits ?? true,
      homingDirMask: homeDirMask,
    });
    this.rxBufferBytes = opts.rxBufferBytes ?? this.profile.rxBufferBytes;
    this.plannerBlocks = opts.plannerBlocks ?? 15;
    const s = physics.spec;
    this.homingOrigin = opts.homeOriginUm ?? (AXES.map((a, i) => (this.sign[i]! > 0 ? s[a].maxUm : s[a].minUm)) as Vec3);
    this.resetOnAttach = opts.resetOnAttach ?? false;
    this.staleOnAttach = opts.staleOnAttach ?? [];
    if (opts.startHomed ?? true) {
      this.origin = [...this.homingOrigin];
      this.homed = true;
    } else this.powerUp(clock.now());
  }

  /** Machine state as a status report would name it. */
  get stateName(): string {
    if (this.alarm !== null) return 'Alarm';
    if (this.homing) return 'Home';
    if (this.hold) return `Hold:${this.hold.phase}`;
    if (this.runningEnd !== null || this.planner.length > 0 || this.dwellEnd !== null || this.waiting?.kind === 'sync') {
      return this.planner[0]?.jog ? 'Jog' : 'Run';
    }
    return 'Idle';
  }

  /** Fault injection: a limit switch trips now (ALARM:1 by default). */
  triggerAlarm(code = 1): void {
    if (!Number.isInteger(code) || code < 1 || code > this.profile.maxAlarm) {
      throw new RangeError(`${this.profile.banner} raises alarms 1–${this.profile.maxAlarm}, not ${code}`);
    }
    this.advance(this.clock.now(), false);
    this.raiseAlarm(code, this.clock.now(), true);
  }

  /** Fault injection: the controller loses power and comes back (position lost, locked if homing is enabled). */
  powerCycle(): void {
    this.powerUp(this.clock.now());
    for (const l of this.profile.bootLines) this.sendLine(`${l}\r\n`);
    this.banner(this.alarm !== null);
  }

  /** Homed since power-up. */
  get isHomed(): boolean {
    return this.homed;
  }

  protected onAttach(): void {
    this.stale = [...this.staleOnAttach];
    if (this.resetOnAttach) this.powerCycle();
  }

  private powerUp(now: number): void {
    this.physics.halt(now);
    this.flush();
    // Step counters start at zero wherever the stage happens to be.
    this.origin = this.physics.commandedAt(now);
    this.alarm = this.settings.get(22) === 1 && this.profile.locksAtPowerUp ? 0 : null;
    this.critical = false;
    this.homed = false;
  }

  // ---- input ------------------------------------------------------------------------------------------------------

  protected input(chunk: Buffer): void {
    for (const b of chunk) {
      if (REALTIME.has(b) || b >= 0x90) {
        this.realtimeReceived.push(b);
        if (this.realtimeReceived.length > 4000) this.realtimeReceived.splice(0, 2000);
        this.advance(this.clock.now(), false);
        this.realtime(b);
        continue;
      }
      if (this.rx.length >= this.rxBufferBytes) {
        this.stats.rxOverflowBytes++;
        continue;
      }
      this.rx.push(b);
    }
    this.advance(this.clock.now(), false);
  }

  private realtime(b: number): void {
    const now = this.clock.now();
    switch (b) {
      case 0x3f:
        if (!this.homing && !this.critical) this.sendLine(this.statusReport(now));
        return;
      case 0x21:
        if (this.planner[0]?.jog) {
          if (this.profile.feedHoldCancelsJog) this.cancelJog(now);
        } else if (this.runningEnd !== null && !this.hold) {
          this.hold = { phase: 1, end: this.physics.stop(now) };
          this.runningEnd = null;
        }
        return;
      case 0x7e:
        if (this.hold?.phase === 0) {
          this.hold = null;
          this.startNext(now);
        }
        return;
      case 0x85:
        if (this.planner[0]?.jog) this.cancelJog(now);
        return;
      case 0x18:
        // During a critical alarm the firmware takes a reset only once it has said so; one sent earlier is lost.
        if (this.critical && this.resetMessageDue !== null) return;
        this.softReset(now);
        return;
      default:
        // Overrides and the safety-door byte are accepted and ignored.
        return;
    }
  }

  private cancelJog(now: number): void {
    if (this.runningEnd === null) return;
    this.runningEnd = this.physics.stop(now);
    this.planner = this.planner.slice(0, 1);
  }

  private softReset(now: number): void {
    const moving = this.runningEnd !== null || this.homing !== null || this.hold?.phase === 1 || this.dwellEnd !== null;
    if (moving) {
      this.physics.halt(now);
      this.alarm = this.homing ? 6 : 3;
      this.sendLine(`ALARM:${this.alarm}\r\n`);
    }
    this.flush();
    this.critical = false;
    this.banner(this.alarm !== null);
  }

  private banner(locked: boolean): void {
    this.modal = { inch: false, relative: false, motion: 0, feedMmPerMin: 0 };
    this.wcoNext = true;
    this.sendLine('\r\n');
    this.sendLine(`${this.profile.banner}\r\n`);
    for (const l of this.profile.afterBanner) this.sendLine(`${l}\r\n`);
    if (locked) this.sendLine("[MSG:'$H'|'$X' to unlock]\r\n");
  }

  private flush(): void {
    this.rx = [];
    this.planner = [];
    this.runningEnd = null;
    this.waiting = null;
    this.dwellEnd = null;
    this.hold = null;
    this.homing = null;
    this.alarmDue = null;
    this.resetMessageDue = null;
  }

  // ---- time -------------------------------------------------------------------------------------------------------

  protected advance(now: number, own: boolean): void {
    for (let guard = 0; guard < 10_000; guard++) {
      if (this.step(now, own)) continue;
      if (this.takeLine(own)) continue;
      break;
    }
    const next = [
      this.runningEnd,
      this.hold?.phase === 1 ? this.hold.end : null,
      this.homing?.end ?? null,
      this.alarmDue?.at ?? null,
      this.dwellEnd,
      this.resetMessageDue,
    ];
    const at = Math.min(...next.filter((t): t is number => t !== null));
    if (Number.isFinite(at)) this.wakeAt(at);
  }

  /** Handles the earliest event due by `now`; false when none is. */
  private step(now: number, own: boolean): boolean {
    const due: Array<[number, () => void]> = [];
    if (this.runningEnd !== null && this.runningEnd <= now) {
      const t = this.runningEnd;
      due.push([
        t,
        () => {
          this.runningEnd = null;
          this.planner.shift();
          this.startNext(t);
        },
      ]);
    }
    if (this.hold?.phase === 1 && this.hold.end <= now) due.push([this.hold.end, () => (this.hold!.phase = 0)]);
    if (this.homing && this.homing.end <= now) due.push([this.homing.end, () => this.homingStep(this.homing!.end, own)]);
    if (this.alarmDue && this.alarmDue.at <= now) {
      const a = this.alarmDue;
      due.push([
        a.at,
        () => {
          this.alarmDue = null;
          if (this.runningEnd !== null || this.planner.length > 0) this.raiseAlarm(a.code, a.at, own);
        },
      ]);
    }
    if (this.resetMessageDue !== null && this.resetMessageDue <= now)
      due.push([
        this.resetMessageDue,
        () => {
          this.resetMessageDue = null;
          this.sendLine('[MSG:Reset to continue]\r\n', own);
        },
      ]);
    if (this.dwellEnd !== null && this.dwellEnd <= now)
      due.push([
        this.dwellEnd,
        () => {
          this.dwellEnd = null;
          this.sendLine('ok\r\n', own);
        },
      ]);
    const w = this.waiting;
    if (w?.kind === 'sync' && this.planner.length === 0 && this.runningEnd === null && !this.hold && this.alarm === null) {
      due.push([
        now,
        () => {
          this.waiting = null;
          if (w.dwellMs > 0) this.dwellEnd = now + w.dwellMs;
          else this.sendLine('ok\r\n', own);
        },
      ]);
    }
    if (w?.kind === 'motion' && this.planner.length < this.plannerBlocks) {
      due.push([
        now,
        () => {
          this.waiting = null;
          this.plan(w.block, now);
          this.sendLine('ok\r\n', own);
        },
      ]);
    }
    if (due.length === 0) return false;
    due.sort((a, b) => a[0] - b[0]);
    due[0]![1]();
    return true;
  }

  private startNext(t: number): void {
    const head = this.planner[0];
    if (!head || this.hold || this.alarm !== null || this.runningEnd !== null) return;
    const f = this.faults.alarmDuringNextMove;
    if (f) {
      this.faults.alarmDuringNextMove = null;
      this.alarmDue = { at: t + f.afterMs, code: f.code ?? 1 };
    }
    this.runningEnd = this.physics.moveTo(head.target, t, head.fraction);
  }

  private plan(block: Block, now: number): void {
    this.planner.push(block);
    this.startNext(now);
  }

  private raiseAlarm(code: number, t: number, own: boolean): void {
    const m = this.planner[0];
    if (m) {
      const c = this.physics.commandedAt(t);
      const d = AXES.map((_, i) => Math.abs(m.target[i]! - c[i]!));
      this.limitPin = 'XYZ'[d.indexOf(Math.max(...d))]!;
    }
    this.physics.halt(t);
    this.flush();
    this.alarm = code;
    this.critical = code === 1 || code === 2;
    this.sendLine(`ALARM:${code}\r\n`, own);
    if (this.critical) {
      // The firmware pauses before it says it wants a reset (and only then takes one).
      if (this.profile.resetMessageDelayMs > 0) {
        this.resetMessageDue = t + this.profile.resetMessageDelayMs;
        this.wakeAt(this.resetMessageDue);
      } else this.sendLine('[MSG:Reset to continue]\r\n', own);
    }
  }

  private homingStep(t: number, own: boolean): void {
    const s = this.physics.spec;
    const h = this.homing!;
    const cur = this.physics.commandedAt(t);
    const seekUmPerS = (this.settings.get(25) * 1000) / 60;
    if (h.phase === 0) {
      // Z first, away from the sample, as GRBL's default homing cycle does.
      const frac = Math.min(1, seekUmPerS / s.z.maxSpeedUmPerS);
      this.homing = { phase: 1, end: this.physics.moveTo([cur[0], cur[1], s.z.maxUm], t, frac) };
    } else if (h.phase === 1) {
      const frac = Math.min(1, seekUmPerS / Math.min(s.x.maxSpeedUmPerS, s.y.maxSpeedUmPerS));
      this.homing = { phase: 2, end: this.physics.moveTo([s.x.minUm, s.y.minUm, cur[2]], t, frac) };
    } else {
      this.homing = null;
      this.origin = [...this.homingOrigin];
      this.alarm = null;
      this.homed = true;
      this.sendLine('ok\r\n', own);
    }
  }

  // ---- lines ------------------------------------------------------------------------------------------------------

  private takeLine(own: boolean): boolean {
    if (this.waiting || this.dwellEnd !== null || this.homing || this.critical) return false;
    const nl = this.rx.indexOf(LF);
    if (nl < 0) return false;
    const bytes = this.rx.splice(0, nl + 1);
    const raw = Buffer.from(bytes.slice(0, -1)).toString('latin1').replace(/\r/g, '');
    this.logReceived(raw);
    // Replies from an earlier session still on the line reach the host ahead of this line's answer.
    for (const l of this.stale.splice(0)) this.sendLine(`${l}\r\n`, own);
    const reply = this.line(raw, own);
    if (reply !== null) this.sendLine(`${reply}\r\n`, own);
    return true;
  }

  /** Executes one line; returns the reply now, or null when it comes later (planner full, G4, $H). */
  private line(raw: string, own: boolean): string | null {
    if (raw.length > 79) return 'error:11';
    const line = normaliseLine(raw);
    if (line === '') return 'ok';
    if (line.startsWith('$')) return this.system(line, own);
    if (this.alarm !== null || this.planner[0]?.jog) return 'error:9';
    const r = parseGcode(line);
    if ('error' in r) return `error:${r.error}`;
    return this.execute(r.block, false);
  }

  private execute(b: ParsedBlock, jog: boolean): string | null {
    const now = this.clock.now();
    const inch = b.units ? b.units === 'inch' : this.modal.inch;
    const relative = b.distance ? b.distance === 'relative' : this.modal.relative;
    const scale = inch ? 25.4 : 1;
    if (!jog) {
      this.modal.inch = inch;
      this.modal.relative = relative;
      if (b.words.F !== undefined) this.modal.feedMmPerMin = b.words.F * scale;
      if (b.motion !== undefined) this.modal.motion = b.motion;
    }
    if (b.dwell) {
      this.waiting = { kind: 'sync', dwellMs: b.words.P! * 1000 };
      return null;
    }
    const words = [b.words.X, b.words.Y, b.words.Z];
    if (words.every((w) => w === undefined)) return 'ok';
    const motion = jog ? 1 : (b.motion ?? this.modal.motion);
    const feed = jog ? b.words.F! * scale : this.modal.feedMmPerMin;
    if (motion === 1 && !(feed > 0)) return 'error:22';
    const last = this.planner.length > 0 ? this.planner[this.planner.length - 1]!.target : this.physics.commandedAt(now);
    const fromMm = this.toCtrlUm(last).map((v) => v / 1000);
    const steps = this.settings.stepsPerMm();
    const targetMm = words.map((w, i) => {
      const v = w === undefined ? fromMm[i]! : relative && !b.machine ? fromMm[i]! + w * scale : w * scale;
      return Math.round(v * steps[i]!) / steps[i]!;
    });
    const target = this.toPhysUm(targetMm.map((v) => v * 1000) as Vec3);
    // Soft limits: machine space is −$13x…0 (zero at the homing end of an axis homed toward +).
    const outside = this.settings.get(20) === 1 && targetMm.some((v, i) => v > 1e-9 || v < -this.settings.get(130 + i) - 1e-9);
    if (outside) {
      if (jog) return 'error:15';
      this.raiseAlarm(2, now, false);
      return null;
    }
    try {
      this.physics.checkLimits(target);
    } catch {
      // Past the end of travel with soft limits off: the axis runs into its limit switch.
      if (jog) return 'error:15';
      this.raiseAlarm(1, now, false);
      return null;
    }
    const fraction = motion === 0 ? 1 : Math.min(1, (feed * 1000) / 60 / this.vectorMax(last, target));
    const block: Block = { target, fraction, jog };
    if (this.planner.length >= this.plannerBlocks) {
      this.waiting = { kind: 'motion', block };
      return null;
    }
    this.plan(block, now);
    return 'ok';
  }

  private vectorMax(from: Vec3, to: Vec3): number {
    const d = AXES.map((_, i) => to[i]! - from[i]!);
    const len = Math.hypot(...d);
    if (len < 1e-9) return Infinity;
    let v = Infinity;
    AXES.forEach((a, i) => {
      const c = Math.abs(d[i]!) / len;
      if (c > 1e-12) v = Math.min(v, this.physics.spec[a].maxSpeedUmPerS / c);
    });
    return v;
  }

  private system(line: string, own: boolean): string | null {
    const idleOrAlarm = this.stateName === 'Idle' || this.stateName === 'Alarm';
    const info = queryReply(line, { settings: this.settings, info: this.profile.info(this.plannerBlocks, this.rxBufferBytes), modal: this.modal });
    if (info) return line === '$$' && !idleOrAlarm ? 'error:8' : this.multi(info, own);
    if (line === '$X') {
      if (this.alarm === null) return 'ok';
      this.alarm = null;
      return this.multi(['[MSG:Caution: Unlocked]'], own);
    }
    if (line === '$H') {
      if (this.settings.get(22) !== 1) return 'error:5';
      if (!idleOrAlarm) return 'error:8';
      this.homing = { phase: 0, end: this.clock.now() };
      return null;
    }
    if (line.startsWith('$J=')) {
      if (this.alarm !== null) return 'error:9';
      if (this.stateName !== 'Idle' && this.stateName !== 'Jog') return 'error:8';
      const r = parseGcode(line.slice(3), true);
      if ('error' in r) return `error:${r.error}`;
      return this.execute(r.block, true);
    }
    const m = /^\$(\d+)=(.*)$/.exec(line);
    if (m) {
      if (!idleOrAlarm) return 'error:8';
      const err = this.settings.set(Number(m[1]), m[2]!);
      return err ? `error:${err}` : 'ok';
    }
    return 'error:3';
  }

  private multi(lines: string[], own: boolean): string {
    for (const l of lines) this.sendLine(`${l}\r\n`, own);
    return 'ok';
  }

  private statusReport(now: number): string {
    this.reports++;
    const wco = this.wcoNext || this.reports % 10 === 0;
    if (wco) this.wcoNext = false;
    return formatStatus({
      state: this.stateName,
      ctrlUm: this.toCtrlUm(this.physics.commandedAt(now)),
      speedUmPerS: this.physics.speedAt(now),
      mask: this.settings.get(10),
      inch: this.settings.get(13) === 1,
      plannerFree: this.plannerBlocks - this.planner.length,
      rxFree: this.rxBufferBytes - this.rx.length - this.profile.bfOffset,
      homed: this.profile.reportsHomed && this.settings.get(22) === 1 ? this.homed : undefined,
      pins: this.critical && this.alarm === 1 ? this.limitPin : '',
      wco,
      overrides: !wco && this.reports % 20 === 1,
    });
  }
}
