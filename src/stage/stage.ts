/**
 * The Stage port: a motorised XY stage with a focus (Z) drive.
 *
 * Contract (every driver passes test/contracts/stage.contract.ts):
 * - Positions are in µm in the stage's machine frame; steps ↔ µm and axis directions are the driver's business.
 * - Soft travel limits are checked before anything is sent: a target beyond them is refused with a RangeError naming
 *   the axis, the target and the limit. Only the axes a call commands are checked (the others do not move).
 * - `moveTo` resolves only when the controller reports every axis idle AND the configured settle time has passed,
 *   with the position read back from the controller (never a position it did not report).
 * - Calls that move are serialised: a second `moveTo` waits for the first.
 * - Every long call takes an AbortSignal; aborting stops the motion (controlled stop) and rejects with
 *   `canceled: true`. `stop()` and `emergencyStop()` make a move in progress reject with `canceled: true` too.
 * - When the connection drops, pending calls reject with `disconnected: true`, the state becomes 'disconnected', and
 *   no move is replayed after a reconnect: the position is re-read (or re-homed) before moves are accepted again.
 * - After an emergency stop or a controller alarm the state may be 'alarm': moves are refused (code 'ALARM') until
 *   `home()` succeeds.
 *
 * Events: 'state' (StageState), 'position' (StagePose, every time the controller reports one), 'disconnected'
 * (Error), and for drivers that reconnect: 'reconnecting' ({ attempt, delayMs }), 'reconnected' (StagePose re-read or
 * re-homed), 'reconnect-failed' (Error, after the last attempt).
 */
import type { EventEmitter } from 'node:events';
import { deviceError, isDeviceError, type DeviceError } from '../kernel/errors.js';

export interface StagePose {
  x: number;
  y: number;
  z: number;
}

export type StageAxis = keyof StagePose;
export const STAGE_AXES: readonly StageAxis[] = ['x', 'y', 'z'];

export type StageState = 'disconnected' | 'connecting' | 'idle' | 'moving' | 'homing' | 'alarm';

export interface AxisLimits {
  minUm: number;
  maxUm: number;
}

export interface MoveOptions {
  signal?: AbortSignal;
  /** Fraction (0 … 1] of the current speed setting (see {@link Stage.setMotion}). */
  speedFraction?: number;
}

/** XY speed and acceleration of moves (the focus drive keeps its own). */
export interface MotionSettings {
  speedUmPerS: number;
  accelUmPerS2: number;
}

export interface Stage extends Pick<EventEmitter, 'on' | 'off' | 'once'> {
  readonly id: string;
  readonly state: StageState;
  readonly limits: Readonly<Record<StageAxis, AxisLimits>>;
  connect(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
  /** Absolute move; axes left out keep their position. */
  moveTo(target: Partial<StagePose>, opts?: MoveOptions): Promise<StagePose>;
  /** Relative move. */
  moveBy(delta: Partial<StagePose>, opts?: MoveOptions): Promise<StagePose>;
  /** Position read from the controller. */
  position(signal?: AbortSignal): Promise<StagePose>;
  home(signal?: AbortSignal): Promise<StagePose>;
  /** Sets XY speed and/or acceleration; resolves with what the controller now uses. */
  setMotion(settings: Partial<MotionSettings>, signal?: AbortSignal): Promise<MotionSettings>;
  /** Controlled stop (decelerate); the position stays known. */
  stop(): Promise<void>;
  /** Immediate halt; the controller may need homing afterwards (state 'alarm'). */
  emergencyStop(): Promise<void>;
}

/**
 * Typed reasons a stage call fails. Marker fields follow serialport's convention (`canceled`, `disconnected`), so
 * callers can branch without class trees.
 */
export type StageErrorCode =
  'CANCELED' | 'DISCONNECTED' | 'NOT_READY' | 'TIMEOUT' | 'ALARM' | 'CONTROLLER_ERROR' | 'TARGET_MISSED' | 'PROTOCOL' | 'CONFIG' | 'OPEN_FAILED';

/** Every stage error is a device error (`device: 'stage'`, src/kernel/errors.ts); `code` says which. */
export interface StageError extends DeviceError {
  code?: StageErrorCode;
  canceled?: boolean;
  disconnected?: boolean;
  /** The controller's own code, as it sent it (e.g. "error:22", "ALARM:1", "E,8"). */
  firmwareCode?: string;
  axis?: StageAxis;
}

export interface StageErrorMarks {
  code?: StageErrorCode;
  canceled?: boolean;
  disconnected?: boolean;
  firmwareCode?: string;
  axis?: StageAxis;
}

export function stageError(message: string, marks: StageErrorMarks = {}): StageError {
  const m: StageErrorMarks = { ...marks };
  if (m.canceled && !m.code) m.code = 'CANCELED';
  if (m.disconnected && !m.code) m.code = 'DISCONNECTED';
  if (m.code === 'CANCELED') m.canceled = true;
  if (m.code === 'DISCONNECTED') m.disconnected = true;
  const err = deviceError('stage', message, m);
  err.name = 'StageError';
  return err;
}

export function isStageError(err: unknown): err is StageError {
  return isDeviceError(err) && err.device === 'stage';
}

/**
 * Refuses a target beyond the soft limits, naming axis, target and limit (before anything is sent). Axes left out of
 * a partial target are not checked: they do not move.
 */
export function checkSoftLimits(limits: Readonly<Record<StageAxis, AxisLimits>>, target: Partial<StagePose>): void {
  for (const axis of STAGE_AXES) {
    const v = target[axis];
    if (v === undefined) continue;
    if (!Number.isFinite(v)) throw new RangeError(`stage axis ${axis}: target ${v} is not a finite number of µm`);
    const l = limits[axis];
    if (v < l.minUm) throw new RangeError(`stage axis ${axis}: target ${v} µm is below the soft limit ${l.minUm} µm`);
    if (v > l.maxUm) throw new RangeError(`stage axis ${axis}: target ${v} µm is above the soft limit ${l.maxUm} µm`);
  }
}

/** Checks a speed fraction from MoveOptions (RangeError naming the value). */
export function checkSpeedFraction(f: number | undefined): number {
  if (f === undefined) return 1;
  if (!Number.isFinite(f) || f <= 0 || f > 1) throw new RangeError(`speedFraction ${f} is outside (0, 1]`);
  return f;
}

/** Checks motion settings (RangeError naming the field and value). */
export function checkMotionSettings(s: Partial<MotionSettings>): void {
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (k !== 'speedUmPerS' && k !== 'accelUmPerS2') throw new RangeError(`unknown motion setting "${k}"`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${k} ${String(v)} must be a positive number`);
  }
}
