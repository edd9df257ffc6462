/**
 * The live camera view. The scan's own grab path is never held up: a frame is looked at only when someone watches,
 * copied (downsampled, a few hundred kilobytes at most) only when the rate cap allows and the encoder is idle, and
 * encoded by sharp off the event loop. A frame that finds the encoder busy, or a viewer whose connection has not taken
 * the previous frame, is dropped and counted — viewer frames are never queued.
 */
import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import type { Frame, FrameSource } from '../camera/frame-source.js';
import type { Stage, StagePose } from '../stage/stage.js';

export interface LiveFrame {
  jpeg: Buffer;
  sequence: number;
  width: number;
  height: number;
  /** Wall time the frame was offered (ms since epoch). */
  at: number;
  objective: string | null;
  pose: StagePose | null;
}

export interface LiveOptions {
  maxFps: number;
  maxSidePx: number;
  jpegQuality: number;
  now?: () => number;
}

export class LiveView extends EventEmitter {
  latest: LiveFrame | null = null;
  /** Frames that found the encoder busy, plus frames a viewer's connection could not take yet. */
  dropped = 0;
  encoded = 0;
  /** Frames the scan grabbed while the page was up. */
  offered = 0;
  private watchers = 0;
  private busy = false;
  private lastAt = -Infinity;
  pose: StagePose | null = null;
  objective: () => string | null = () => null;
  private readonly now: () => number;

  constructor(private readonly o: LiveOptions) {
    super();
    this.now = o.now ?? Date.now;
  }

  watch(): () => void {
    this.watchers++;
    let done = false;
    return () => {
      if (!done) this.watchers--;
      done = true;
    };
  }

  get viewers(): number {
    return this.watchers;
  }

  /** Called on every grabbed frame, before the scan uses it; returns at once. */
  offer(frame: Frame): void {
    this.offered++;
    if (this.watchers === 0) return;
    const t = this.now();
    if (t - this.lastAt < 1000 / this.o.maxFps) return;
    if (this.busy) {
      this.dropped++;
      return;
    }
    this.lastAt = t;
    this.busy = true;
    const grey = downsample(frame, this.o.maxSidePx);
    const meta = { sequence: frame.sequence, at: t, objective: safe(this.objective), pose: this.pose };
    sharp(grey.pixels, { raw: { width: grey.width, height: grey.height, channels: 1 } })
      .jpeg({ quality: this.o.jpegQuality })
      .toBuffer()
      .then(
        (jpeg) => {
          this.busy = false;
          this.encoded++;
          this.latest = { jpeg, width: grey.width, height: grey.height, ...meta };
          this.emit('frame', this.latest);
        },
        (err: Error) => {
          this.busy = false;
          this.emit('error-frame', err);
        },
      );
  }

  /** The camera as the scan sees it, with every grabbed frame offered to the live view. */
  tapCamera(camera: FrameSource): FrameSource {
    const grab: FrameSource['grab'] = async (opts) => {
      const f = await camera.grab(opts);
      this.offer(f);
      return f;
    };
    return delegate(camera, { grab });
  }

  /** The stage as the scan sees it, remembering where it last stood for the live view's caption. */
  tapStage(stage: Stage): Stage {
    const track =
      <A extends unknown[]>(fn: (...a: A) => Promise<StagePose>) =>
      async (...a: A): Promise<StagePose> => {
        const p = await fn.apply(stage, a);
        this.pose = p;
        return p;
      };
    return delegate(stage, { moveTo: track(stage.moveTo), moveBy: track(stage.moveBy), home: track(stage.home), position: track(stage.position) });
  }
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

/** An object that answers with `over` where given and with the target's own (bound) members otherwise. */
function delegate<T extends object>(target: T, over: Partial<T>): T {
  return new Proxy(target, {
    get(t, p) {
      if (Object.prototype.hasOwnProperty.call(over, p)) return over[p as keyof T];
      const v = Reflect.get(t, p, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** Nearest-neighbour downsample to 8-bit grey with the longest side at most `maxSide` (one pass, no allocation beyond the output). */
export function downsample(
  frame: Pick<Frame, 'data' | 'width' | 'height' | 'bitDepth'>,
  maxSide: number,
): { pixels: Uint8Array; width: number; height: number } {
  const step = Math.max(1, Math.ceil(Math.max(frame.width, frame.height) / maxSide));
  const w = Math.max(1, Math.floor(frame.width / step));
  const h = Math.max(1, Math.floor(frame.height / step));
  const out = new Uint8Array(w * h);
  const shift = frame.bitDepth - 8;
  const d = frame.data;
  for (let y = 0; y < h; y++) {
    const row = y * step * frame.width;
    for (let x = 0; x < w; x++) out[y * w + x] = d[row + x * step]! >> shift;
  }
  return { pixels: out, width: w, height: h };
}
