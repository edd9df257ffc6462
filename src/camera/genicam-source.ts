/**
 * GenICam cameras (GigE Vision, USB3 Vision) through Aravis, behind the FrameSource port.
 *
 * The camera writes straight into the addon's pool buffers (native/src/aravis-device.cc); frames reach JS without a
 * copy. The default software trigger makes each grab() start its own exposure, which is what the port promises; with
 * 'free-run' or 'hardware' triggers grab() takes the first frame whose (estimated, early-leaning) exposure start
 * follows the call.
 */
import type { Clock } from '../kernel/clock.js';
import { callSite, nativeAddon, viaNative, type NativePixelFormat } from '../native/binding.js';
import { expectOptions, rangeError } from '../native/expect.js';
import type { Roi } from './frame-source.js';
import { NativeFrameSource } from './native-frame-source.js';

export interface GenicamSourceOptions {
  /** Camera id (vendor-serial), IP address, or "Fake_<serial>" for Aravis' in-process fake camera; first found if absent. */
  id?: string;
  pixelFormat?: NativePixelFormat;
  width?: number;
  height?: number;
  offsetX?: number;
  offsetY?: number;
  exposureUs?: number;
  gainDb?: number;
  trigger?: 'software' | 'hardware' | 'free-run';
  /** Input line for the hardware trigger. Default Line0. */
  triggerSource?: string;
  frameRate?: number;
  /** GigE Vision packet size (bytes); the camera's default when absent. */
  packetSize?: number;
  latencyMarginUs?: number;
  poolSize?: number;
  queueDepth?: number;
  clock?: Clock;
  defaultTimeoutMs?: number;
}

/** True when the addon was built with Aravis (pkg-config aravis-0.8 found at build time). */
export function genicamAvailable(): boolean {
  try {
    return nativeAddon().features.aravis;
  } catch {
    return false;
  }
}

export class GenicamFrameSource extends NativeFrameSource {
  private readonly trigger: 'software' | 'hardware' | 'free-run';

  constructor(options: GenicamSourceOptions = {}) {
    const o = expectOptions<GenicamSourceOptions>(options);
    if (!genicamAvailable()) throw new Error('GenICam cameras need the native addon built with Aravis (apt install libaravis-dev, then rebuild)');
    const { clock, defaultTimeoutMs, ...open } = o;
    super(
      'genicam',
      {
        id: o.id ?? 'genicam',
        kind: 'genicam',
        ...(clock ? { clock } : {}),
        ...(defaultTimeoutMs !== undefined ? { defaultTimeoutMs } : {}),
      },
      open,
    );
    this.trigger = o.trigger ?? 'software';
  }

  /** Reads out a region of the sensor (null: all of it); the stream restarts with buffers of the new payload size. */
  async setRoi(roi: Roi | null): Promise<void> {
    const site = callSite(this.setRoi);
    if (roi !== null) {
      const r = expectOptions<Roi>(roi, 'roi');
      const ok = [r.x, r.y, r.width, r.height].every((v) => Number.isInteger(v)) && r.x! >= 0 && r.y! >= 0 && r.width! >= 1 && r.height! >= 1;
      if (!ok) throw rangeError('a region of whole, non-negative pixels', 'roi', roi);
    }
    const full = this.device ? { x: 0, y: 0, width: this.device.sensorWidth, height: this.device.sensorHeight } : null;
    const r = roi ?? full;
    const next = { ...this.openOptions };
    if (r) Object.assign(next, { offsetX: r.x, offsetY: r.y, width: r.width, height: r.height });
    else for (const k of ['offsetX', 'offsetY', 'width', 'height'] as const) delete next[k];
    this.openOptions = next;
    if (this.state !== 'open') return; // applies at the next open()
    await viaNative(site, () => this.native.close());
    try {
      this.device = await viaNative(site, () => this.native.open(this.openOptions));
    } catch (err) {
      // The stream is down: report it like an unplug, so the caller can fix the region and open() again.
      this.markDisconnected(`camera ${this.base.id}: reopening with the new region failed: ${(err as Error).message}`);
      throw err;
    }
  }

  protected async startExposure(_callNs: number, signal: AbortSignal): Promise<void> {
    if (this.trigger !== 'software') return;
    // Frames left over from earlier triggers (a grab that timed out) must not answer this one.
    this.native.flush();
    if (signal.aborted) return;
    await this.native.trigger();
  }
}
