/**
 * Physics of a motorised XYZ stage for the twin: coordinated linear moves with a trapezoidal (or triangular) speed
 * profile limited per axis in speed and acceleration, a settle phase with decaying ringing, backlash (play) in each
 * drive, travel limits and a controlled stop. Positions are pure functions of the clock time, so firmware simulators
 * and the twin camera can ask "where is the stage at t" at any moment.
 *
 * Two positions exist: the commanded position (what the controller's step counters say) and the physical position
 * (where the sample really is — behind the commanded one by the drive's play when the direction reverses, and ringing
 * while it settles). Controllers report the former; the camera sees the latter.
 */

export type Axis = 'x' | 'y' | 'z';
export const AXES: readonly Axis[] = ['x', 'y', 'z'];
export type Vec3 = [number, number, number];

export interface AxisSpec {
  minUm: number;
  maxUm: number;
  maxSpeedUmPerS: number;
  accelUmPerS2: number;
  backlashUm: number;
}

export interface StagePhysicsSpec {
  x: AxisSpec;
  y: AxisSpec;
  z: AxisSpec;
  /** Time after the profile ends until residual vibration is below 2 % (ms). */
  settleMs: number;
  /** Peak ringing amplitude right after a move at full speed (µm). */
  ringingUm: number;
}

interface Motion {
  t0: number;
  from: Vec3;
  dir: Vec3;
  length: number;
  v0: number;
  vPeak: number;
  accel: number;
  /** Durations (ms) of the accelerate / cruise / decelerate phases. */
  ta: number;
  tc: number;
  td: number;
}

/** Closed-form duration (s) of a rest-to-rest move of length L with speed limit v and acceleration a. */
export function moveDurationS(lengthUm: number, vMax: number, accel: number): number {
  if (lengthUm <= 0) return 0;
  const dAcc = (vMax * vMax) / accel;
  if (lengthUm >= dAcc) return lengthUm / vMax + vMax / accel;
  return 2 * Math.sqrt(lengthUm / accel);
}

export class StageLimitError extends RangeError {
  constructor(
    readonly axis: Axis,
    readonly targetUm: number,
    readonly limitUm: number,
  ) {
    super(`axis ${axis}: target ${targetUm.toFixed(3)} µm is beyond the travel limit ${limitUm} µm`);
  }
}

export class StagePhysics {
  private motion: Motion | null = null;
  private cmd: Vec3;
  /** Physical position at the start of the current motion (play state). */
  private phys: Vec3;
  /** Instrument time the last motion's profile ended, and its peak speed (for ringing). */
  private lastEnd = -Infinity;
  private lastPeakFraction = 0;
  private lastDir: Vec3 = [0, 0, 0];
  /** Axes that stop following their commands (fault injection: a stalled motor). */
  readonly stalled = new Set<Axis>();

  constructor(
    readonly spec: StagePhysicsSpec,
    start: Vec3 = [0, 0, 0],
  ) {
    this.cmd = [...start];
    this.phys = [...start];
  }

  private axisSpec(i: number): AxisSpec {
    return this.spec[AXES[i]!];
  }

  /** Checks the travel limits; throws {@link StageLimitError} naming the axis, target and limit. */
  checkLimits(target: Vec3): void {
    for (let i = 0; i < 3; i++) {
      const s = this.axisSpec(i);
      if (target[i]! < s.minUm) throw new StageLimitError(AXES[i]!, target[i]!, s.minUm);
      if (target[i]! > s.maxUm) throw new StageLimitError(AXES[i]!, target[i]!, s.maxUm);
    }
  }

  /** Starts a coordinated linear move at time t; returns the time (ms) the profile ends (settling follows). */
  moveTo(target: Vec3, t: number, speedFraction = 1): number {
    this.checkLimits(target);
    const now = this.commandedAt(t);
    this.freeze(t);
    const d: Vec3 = [target[0] - now[0], target[1] - now[1], target[2] - now[2]];
    const length = Math.hypot(...d);
    if (length < 1e-9) {
      this.motion = null;
      return t;
    }
    const dir: Vec3 = [d[0] / length, d[1] / length, d[2] / length];
    // The vector speed and acceleration at which no axis exceeds its own limits.
    let vMax = Infinity;
    let aMax = Infinity;
    for (let i = 0; i < 3; i++) {
      const c = Math.abs(dir[i]!);
      if (c < 1e-12) continue;
      const s = this.axisSpec(i);
      vMax = Math.min(vMax, s.maxSpeedUmPerS / c);
      aMax = Math.min(aMax, s.accelUmPerS2 / c);
    }
    vMax *= Math.max(0.01, Math.min(1, speedFraction));
    this.motion = profile(t, now, dir, length, 0, vMax, aMax);
    return t + this.motion.ta + this.motion.tc + this.motion.td;
  }

  /** Controlled stop: decelerates at the move's acceleration from where it is at time t. Returns when it stands. */
  stop(t: number): number {
    const m = this.motion;
    if (!m || t >= m.t0 + m.ta + m.tc + m.td) return t;
    const v = speedAt(m, t);
    const pos = this.commandedAt(t);
    this.freeze(t);
    if (v <= 0) {
      this.motion = null;
      return t;
    }
    const length = (v * v) / (2 * m.accel);
    const td = (v / m.accel) * 1000;
    this.motion = { t0: t, from: pos, dir: m.dir, length, v0: v, vPeak: v, accel: m.accel, ta: 0, tc: 0, td };
    return t + td;
  }

  /** Emergency stop: steps stop at once (the stage coasts no further in this model; position is kept). */
  halt(t: number): void {
    this.cmd = this.commandedAt(t);
    this.freeze(t);
    this.motion = null;
  }

  /** Redefines the commanded position without moving (homing sets machine zero). */
  setPosition(p: Vec3, t: number): void {
    this.freeze(t);
    this.motion = null;
    this.cmd = [...p];
    this.phys = [...p];
  }

  isMoving(t: number): boolean {
    const m = this.motion;
    return m !== null && t < m.t0 + m.ta + m.tc + m.td;
  }

  /** Time the current motion's profile ends (or the last one ended). */
  profileEnd(): number {
    const m = this.motion;
    return m ? m.t0 + m.ta + m.tc + m.td : this.lastEnd;
  }

  /** True when not moving and past the settle time. */
  isSettled(t: number): boolean {
    return !this.isMoving(t) && t >= this.profileEnd() + this.spec.settleMs;
  }

  /** Vector speed (µm/s) at time t. */
  speedAt(t: number): number {
    return this.motion ? speedAt(this.motion, t) : 0;
  }

  /** What the controller's step counters say at time t. */
  commandedAt(t: number): Vec3 {
    const m = this.motion;
    if (!m) return [...this.cmd];
    const s = distanceAt(m, t);
    const p: Vec3 = [m.from[0] + m.dir[0] * s, m.from[1] + m.dir[1] * s, m.from[2] + m.dir[2] * s];
    for (let i = 0; i < 3; i++) if (this.stalled.has(AXES[i]!)) p[i] = m.from[i]!;
    return p;
  }

  /** Where the carriage really is at time t: play in each drive, plus ringing while settling. */
  physicalAt(t: number): Vec3 {
    const c = this.commandedAt(t);
    const out: Vec3 = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const half = this.axisSpec(i).backlashUm / 2;
      out[i] = Math.min(Math.max(this.phys[i]!, c[i]! - half), c[i]! + half);
    }
    const end = this.profileEnd();
    if (!this.isMoving(t) && t >= end && Number.isFinite(end) && this.spec.settleMs > 0) {
      const dt = t - end;
      const tau = this.spec.settleMs / 4;
      const a = this.spec.ringingUm * this.lastPeakFraction * Math.exp(-dt / tau) * Math.cos((2 * Math.PI * 25 * dt) / 1000);
      const dir = this.motion?.dir ?? this.lastDir;
      for (let i = 0; i < 2; i++) out[i]! += a * dir[i]!;
    }
    return out;
  }

  /** Ends the current motion at time t (keeping where it got to) before a new one starts. */
  private freeze(t: number): void {
    const c = this.commandedAt(t);
    // Play operator: the physical carriage follows the commanded position within ± backlash / 2.
    for (let i = 0; i < 3; i++) {
      const half = this.axisSpec(i).backlashUm / 2;
      this.phys[i] = Math.min(Math.max(this.phys[i]!, c[i]! - half), c[i]! + half);
    }
    const m = this.motion;
    if (m) {
      const end = m.t0 + m.ta + m.tc + m.td;
      this.lastEnd = Math.min(end, t);
      this.lastDir = m.dir;
      let vmaxAxis = 0;
      for (let i = 0; i < 3; i++) vmaxAxis = Math.max(vmaxAxis, this.axisSpec(i).maxSpeedUmPerS);
      this.lastPeakFraction = Math.min(1, m.vPeak / vmaxAxis);
    }
    this.cmd = c;
  }
}

function profile(t0: number, from: Vec3, dir: Vec3, length: number, v0: number, vMax: number, accel: number): Motion {
  // Rest-to-rest (v0 = 0) trapezoid; triangular when the move is too short to reach vMax.
  let vPeak = vMax;
  let dAcc = (vPeak * vPeak) / (2 * accel);
  if (2 * dAcc > length) {
    vPeak = Math.sqrt(accel * length);
    dAcc = length / 2;
  }
  const ta = (vPeak / accel) * 1000;
  const tc = ((length - 2 * dAcc) / vPeak) * 1000;
  return { t0, from: [...from], dir, length, v0, vPeak, accel, ta, tc, td: ta };
}

function speedAt(m: Motion, t: number): number {
  const dt = t - m.t0;
  if (dt <= 0) return m.v0;
  if (dt < m.ta) return (m.vPeak * dt) / m.ta;
  if (dt < m.ta + m.tc) return m.vPeak;
  const left = m.ta + m.tc + m.td - dt;
  if (left <= 0) return 0;
  return m.td > 0 ? (m.vPeak * left) / m.td : 0;
}

function distanceAt(m: Motion, t: number): number {
  const dt = (t - m.t0) / 1000;
  if (dt <= 0) return 0;
  const ta = m.ta / 1000;
  const tc = m.tc / 1000;
  const td = m.td / 1000;
  if (dt >= ta + tc + td) return m.length;
  const a = m.accel;
  if (dt < ta) return 0.5 * a * dt * dt;
  const dA = 0.5 * a * ta * ta;
  if (dt < ta + tc) return dA + m.vPeak * (dt - ta);
  const u = dt - ta - tc;
  return dA + m.vPeak * tc + m.vPeak * u - 0.5 * a * u * u;
}
