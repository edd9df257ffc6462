/**
 * The Stage port: a motorised XY stage with a focus (Z) drive.
 *
 * Contract (every driver passes test/contracts/stage.contract.ts):
 * - Positions are in µm in the stage's machine frame; steps ↔ µm and axis directions are the driver's business.
 * - Soft travel limits are checked before anything is sent: a target beyond them is refused with a RangeError naming
 *   the axis, the target and the limit.
 * - `moveTo` resolves only when the controller reports every axis idle AND the configured settle time has passed,
 *   with the position read back from the controller (never a position it did not report).
 * - Every long call takes an AbortSignal; aborting stops the motion (controlled stop) and rejects with
 *   `canceled: true`.
 * - When the connection drops, pending calls reject with `disconnected: true`, the state becomes 'disconnected', and
 *   no move is replayed after a reconnect: the position is re-read (or re-homed) before moves are accepted again.
 */
import type { EventEmitter } from 'node:events';

export interface StagePose {
  x: number;
  y: number;
  z: number;
}

export type StageAxis = keyof StagePose;

export type StageState = 'disconnected' | 'connecting' | 'idle' | 'moving' | 'homing' | 'alarm';

export interface AxisLimits {
  minUm: number;
  maxUm: number;
}

export interface MoveOptions {
  signal?: AbortSignal;
  /** Fraction (0 … 1] of the configured maximum speed. */
  speedFraction?: number;
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
  /** Controlled stop (decelerate); the position stays known. */
  stop(): Promise<void>;
  /** Immediate halt; the controller may need homing afterwards. */
  emergencyStop(): Promise<void>;
}

export interface StageError extends Error {
  canceled?: boolean;
  disconnected?: boolean;
  /** Controller error or alarm code, when the firmware gave one. */
  code?: string;
}

export function stageError(message: string, marks: { canceled?: boolean; disconnected?: boolean; code?: string } = {}): StageError {
  return Object.assign(new Error(message), marks);
}

/** Refuses a target beyond the soft limits, naming axis, target and limit (before anything is sent). */
export function checkSoftLimits(limits: Readonly<Record<StageAxis, AxisLimits>>, target: StagePose): void {
  for (const axis of ['x', 'y', 'z'] as const) {
    const v = target[axis];
    if (!Number.isFinite(v)) throw new RangeError(`stage axis ${axis}: target ${v} is not a finite number of µm`);
    const l = limits[axis];
    if (v < l.minUm) throw new RangeError(`stage axis ${axis}: target ${v} µm is below the soft limit ${l.minUm} µm`);
    if (v > l.maxUm) throw new RangeError(`stage axis ${axis}: target ${v} µm is above the soft limit ${l.maxUm} µm`);
  }
}
