/**
 * The FrameSource port: a camera (V4L2, GenICam, the twin, a replay) that delivers frames into pooled buffers.
 *
 * Contract (every adapter passes test/contracts/frame-source.contract.ts):
 * - `grab()` triggers (or waits for) one exposure that STARTS after the call, and resolves with it. Frames exposed
 *   earlier are never returned: the scan engine relies on this to discard frames taken while the stage moved.
 * - A frame's `data` views a pool buffer (no copy). The caller must `release()` it when done; after release the memory
 *   belongs to the pool again. A frame that is never released is reclaimed by its finaliser (counted as `leaked`).
 * - When the pool is exhausted or the consumer is slow, the oldest undelivered frame is dropped and counted; grabs
 *   never queue without bound.
 * - `grab()` rejects with an error whose `canceled` is true when its signal aborts or the source closes, with
 *   `timeout` true when no frame arrived in time, and with `disconnected` true when the device went away; after a
 *   disconnect the source reports state 'disconnected' and `open()` may be called again.
 */
import type { EventEmitter } from 'node:events';
import { deviceError, type DeviceError, type DeviceMarks } from '../kernel/errors.js';

export type PixelFormat = 'Mono8' | 'Mono12' | 'Mono16';

export function bitDepthOf(format: PixelFormat): 8 | 12 | 16 {
  return format === 'Mono8' ? 8 : format === 'Mono12' ? 12 : 16;
}

export interface Frame {
  /** width·height pixels, row-major, no padding; Uint16Array for 12- and 16-bit formats (LSB-aligned). */
  readonly data: Uint8Array | Uint16Array;
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  readonly bitDepth: 8 | 12 | 16;
  /** Per-source frame counter. */
  readonly sequence: number;
  /** Instrument time (Clock.now(), ms) when the exposure started and ended. */
  readonly exposureStartMs: number;
  readonly exposureEndMs: number;
  readonly exposureUs: number;
  readonly gainDb: number;
  /** Returns the buffer to the pool. Idempotent. */
  release(): void;
}

export interface FrameSourceCounters {
  delivered: number;
  dropped: number;
  timeouts: number;
  /** Frames discarded as incomplete (missing packets, truncated). */
  incomplete: number;
  errors: number;
  /** Frames reclaimed by finaliser rather than released. */
  leaked: number;
}

export interface FrameSourceInfo {
  id: string;
  kind: 'v4l2' | 'genicam' | 'twin' | 'replay' | 'push';
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  exposureUs: number;
  gainDb: number;
}

export type FrameSourceState = 'closed' | 'open' | 'disconnected';

export interface GrabOptions {
  signal?: AbortSignal;
  /** Real-time limit for the frame to arrive (ms). */
  timeoutMs?: number;
}

/** A region of interest on the sensor, in sensor pixels. */
export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FrameSource extends Pick<EventEmitter, 'on' | 'off' | 'once'> {
  readonly state: FrameSourceState;
  open(): Promise<void>;
  close(): Promise<void>;
  grab(opts?: GrabOptions): Promise<Frame>;
  setExposure(us: number): Promise<void>;
  setGain(db: number): Promise<void>;
  /** Reads out only a region of the sensor (null: the full sensor). Autofocus uses a central ROI. */
  setRoi?(roi: Roi | null): Promise<void>;
  info(): FrameSourceInfo;
  counters(): FrameSourceCounters;
}

/**
 * Errors with marker fields, in the style of serialport: check `err.canceled`, `err.timeout`, `err.disconnected`;
 * `device: 'camera'` makes every one a device error (src/kernel/errors.ts).
 */
export type CameraError = DeviceError;

export function cameraError(message: string, marks: DeviceMarks = {}): CameraError {
  return deviceError('camera', message, marks);
}
