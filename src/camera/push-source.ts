/**
 * The push source: frames written by TypeScript (the twin's renderer, a replay) into the addon's pool buffers, then
 * delivered exactly like a camera's: same pool, same queue, same Frame objects, same counters. Downstream code cannot
 * tell a pushed frame from one a GigE camera wrote.
 *
 * Two ways to feed it:
 * - a {@link FrameProducer}: grab() asks it to expose one frame into a free buffer (the twin renders on demand, so
 *   the exposure starts after the call as the port requires);
 * - {@link PushFrameSource.push}: an outside loop pushes frames as they come (replay at a frame rate); grab() waits
 *   for the next one.
 */
import type { Clock } from '../kernel/clock.js';
import type { NativePixelFormat } from '../native/binding.js';
import { expectNumber } from '../native/expect.js';
import { cameraError, type FrameSourceInfo, type Roi } from './frame-source.js';
import { NativeFrameSource } from './native-frame-source.js';
import type { FramePool } from './frame-pool.js';

/** One exposure as the producer made it. */
export interface Exposure {
  width: number;
  height: number;
  /** Instrument times (the producer's Clock, ms). */
  exposureStartMs: number;
  exposureEndMs: number;
  exposureUs: number;
  gainDb: number;
}

export interface FrameProducer {
  /** Exposes one frame starting now into `target` (at least width·height of the current region) and describes it. */
  expose(target: Uint8Array | Uint16Array, signal: AbortSignal): Promise<Exposure>;
  setExposure?(us: number): Promise<void>;
  setGain?(db: number): Promise<void>;
  setRoi?(roi: Roi | null): Promise<void>;
  /** The producer's current frame size and settings (a region of interest makes frames smaller than the pool's). */
  info?(): Pick<FrameSourceInfo, 'width' | 'height' | 'exposureUs' | 'gainDb'>;
}

export interface PushSourceOptions {
  id?: string;
  kind?: FrameSourceInfo['kind'];
  width: number;
  height: number;
  pixelFormat: NativePixelFormat;
  poolSize?: number;
  queueDepth?: number;
  exposureUs?: number;
  gainDb?: number;
  producer?: FrameProducer;
  clock?: Clock;
  defaultTimeoutMs?: number;
}

export class PushFrameSource extends NativeFrameSource {
  private readonly producer: FrameProducer | undefined;

  constructor(opts: PushSourceOptions) {
    super(
      'push',
      {
        id: opts.id ?? 'push',
        kind: opts.kind ?? 'push',
        ...(opts.clock ? { clock: opts.clock } : {}),
        ...(opts.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: opts.defaultTimeoutMs } : {}),
      },
      {
        id: opts.id ?? 'push',
        width: opts.width,
        height: opts.height,
        pixelFormat: opts.pixelFormat,
        poolSize: opts.poolSize ?? 4,
        ...(opts.queueDepth !== undefined ? { queueDepth: opts.queueDepth } : {}),
        exposureUs: opts.exposureUs ?? 1000,
        gainDb: opts.gainDb ?? 0,
      },
    );
    this.producer = opts.producer;
  }

  /**
   * Writes one frame from outside: `write` fills the buffer (width·height pixels unless it reports a smaller region)
   * and describes the exposure. Resolves false when every buffer is held by the consumer (counted as dropped).
   */
  async push(write: (data: Uint8Array | Uint16Array) => Exposure | Promise<Exposure>): Promise<boolean> {
    this.requireOpen();
    const slot = this.native.acquire();
    if (!slot) {
      this.countDropped();
      return false;
    }
    try {
      this.submit(slot, await write(slot.data));
    } catch (err) {
      this.native.abandon(slot.slot, slot.generation, slot.data);
      throw err;
    }
    return true;
  }

  /** The producer's upstream is gone (replay ended, simulator stopped): waiting grabs reject with `disconnected`. */
  disconnect(reason: string): void {
    this.markDisconnected(`camera ${this.base.id}: ${reason}`);
  }

  /** Pool buffers as a {@link FramePool}, for code that renders into native memory itself. */
  framePool(): FramePool {
    const native = this.native;
    const size = this.openOptions.poolSize ?? 4;
    return {
      size,
      acquire: () => {
        const s = native.acquire();
        if (!s) return null;
        let released = false;
        return {
          data: s.data,
          release: () => {
            if (released) return;
            released = true;
            native.abandon(s.slot, s.generation, s.data);
          },
        };
      },
    };
  }

  override async setExposure(us: number): Promise<void> {
    if (!(typeof us === 'number' && us >= 10 && us <= 10_000_000)) {
      throw new RangeError(`Expected an exposure between 10 and 10000000 µs but received ${us}`);
    }
    await this.producer?.setExposure?.(us);
    await super.setExposure(us);
  }

  override async setGain(db: number): Promise<void> {
    if (!(typeof db === 'number' && db >= 0 && db <= 48)) throw new RangeError(`Expected a gain between 0 and 48 dB but received ${db}`);
    await this.producer?.setGain?.(db);
    await super.setGain(db);
  }

  async setRoi(roi: Roi | null): Promise<void> {
    if (!this.producer?.setRoi) throw new Error(`camera ${this.base.id}: this source has no region of interest`);
    await this.producer.setRoi(roi);
  }

  protected async startExposure(_callNs: number, signal: AbortSignal): Promise<void> {
    if (!this.producer) return; // frames come from push(); grab() waits for the next one
    const slot = this.native.acquire();
    if (!slot) {
      this.countDropped();
      throw cameraError(`camera ${this.base.id}: all ${this.openOptions.poolSize ?? 4} frame buffers are held by the consumer; release frames`, {
        timeout: true,
      });
    }
    try {
      this.submit(slot, await this.producer.expose(slot.data, signal));
    } catch (err) {
      this.native.abandon(slot.slot, slot.generation, slot.data);
      throw err;
    }
  }

  override info(): FrameSourceInfo {
    const own = super.info();
    const p = this.producer?.info?.();
    return p ? { ...own, width: p.width, height: p.height, exposureUs: p.exposureUs, gainDb: p.gainDb } : own;
  }

  private submit(slot: { slot: number; generation: number; data: Uint8Array | Uint16Array }, exp: Exposure): void {
    expectNumber(exp.width, 'exposure.width', 1, this.openOptions.width ?? 1, true);
    expectNumber(exp.height, 'exposure.height', 1, this.openOptions.height ?? 1, true);
    this.native.submit(slot.slot, slot.generation, slot.data, {
      width: exp.width,
      height: exp.height,
      exposureUs: exp.exposureUs,
      gainDb: exp.gainDb,
      startMs: exp.exposureStartMs,
      endMs: exp.exposureEndMs,
    });
    this.poll();
  }
}
