/**
 * The FrameSource behaviour every native-backed camera shares (GenICam, V4L2, push): frames are views of the addon's
 * pool memory handed over without a copy, grabs wait on the addon's frame notifications, and disconnection,
 * cancellation and timeouts follow the port's contract (src/camera/frame-source.ts).
 *
 * Subclasses say how an exposure starts after grab() is called: a software trigger, a render by a producer, or nothing
 * (free-running devices, whose frames are filtered by their exposure start time).
 */
import { EventEmitter } from 'node:events';
import { RealClock, type Clock } from '../kernel/clock.js';
import {
  callSite,
  nativeAddon,
  viaNative,
  withCallSite,
  type CaptureInfo,
  type CaptureKind,
  type CaptureOpenOptions,
  type NativeCapture,
  type NativeCounters,
  type NativeFrame,
} from '../native/binding.js';
import { expectNumber } from '../native/expect.js';
import {
  cameraError,
  type CameraError,
  type Frame,
  type FrameSource,
  type FrameSourceCounters,
  type FrameSourceInfo,
  type FrameSourceState,
  type GrabOptions,
} from './frame-source.js';

interface Waiter {
  minStartNs: number;
  resolve(f: Frame): void;
  reject(e: CameraError): void;
}

export interface NativeSourceOptions {
  id: string;
  kind: FrameSourceInfo['kind'];
  clock?: Clock;
  /** Real-time grab limit when GrabOptions.timeoutMs is not given (ms). Default 5000. */
  defaultTimeoutMs?: number;
}

export abstract class NativeFrameSource extends EventEmitter implements FrameSource {
  protected readonly native: NativeCapture;
  protected readonly clock: Clock;
  protected device: CaptureInfo | null = null;
  private st: FrameSourceState = 'closed';
  private waiters = new Set<Waiter>();
  /** Counted on the JS side: grabs that timed out, failures of trigger/producer calls, frames refused for lack of buffers. */
  private readonly js = { timeouts: 0, errors: 0, dropped: 0 };
  private opening: Promise<void> | null = null;
  /** Aborted by close(): cancels exposures in progress (a producer's render, a trigger). */
  private closing = new AbortController();

  protected constructor(
    kind: CaptureKind,
    protected readonly base: NativeSourceOptions,
    protected openOptions: CaptureOpenOptions,
  ) {
    super();
    this.clock = base.clock ?? new RealClock();
    this.native = new (nativeAddon().Capture)(kind, (event, detail) => this.onNative(event, detail));
  }

  get state(): FrameSourceState {
    return this.st;
  }

  async open(): Promise<void> {
    if (this.st === 'open') return;
    if (this.opening) return this.opening;
    const site = callSite(this.open);
    this.opening = (async () => {
      try {
        if (this.st === 'disconnected') await this.native.close();
        this.device = await viaNative(site, () => this.native.open(this.openOptions));
        this.closing = new AbortController();
        this.st = 'open';
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined); // close() during open() closes what it opened
    if (this.st === 'closed') return;
    this.st = 'closed';
    this.closing.abort();
    this.rejectAll(cameraError(`camera ${this.base.id}: grab canceled (camera closed)`, { canceled: true }));
    await this.native.close();
  }

  info(): FrameSourceInfo {
    const d = this.device;
    return {
      id: this.base.id,
      kind: this.base.kind,
      width: d?.width ?? this.openOptions.width ?? 0,
      height: d?.height ?? this.openOptions.height ?? 0,
      pixelFormat: d?.pixelFormat ?? this.openOptions.pixelFormat ?? 'Mono8',
      exposureUs: d?.exposureUs ?? this.openOptions.exposureUs ?? 0,
      gainDb: d?.gainDb ?? this.openOptions.gainDb ?? 0,
    };
  }

  /** What the device reported when it opened (transport, vendor, zero-copy, DMABUF), or null while closed. */
  deviceInfo(): CaptureInfo | null {
    return this.device ? { ...this.device } : null;
  }

  counters(): FrameSourceCounters {
    const n = this.native.counters();
    return {
      delivered: n.delivered,
      dropped: n.dropped + this.js.dropped,
      timeouts: n.timeouts + this.js.timeouts,
      incomplete: n.incomplete,
      errors: n.errors + this.js.errors,
      leaked: n.leaked,
    };
  }

  /** Every counter the addon keeps, device-specific ones included (missing packets, underruns, …), for metrics. */
  stats(): NativeCounters {
    const c = this.counters();
    return { ...this.native.counters(), ...c };
  }

  /** Whether a view lies in this source's pool memory: a frame that does was never copied on the JS side. */
  ownsMemory(view: ArrayBufferView): boolean {
    return this.native.contains(view);
  }

  async setExposure(us: number): Promise<void> {
    const site = callSite(this.setExposure);
    expectNumber(us, 'exposureUs', -1e12, 1e12); // the device names its own range
    this.requireOpen();
    const got = await this.control(site, () => this.native.setExposure(us));
    if (this.device) this.device.exposureUs = got;
    this.openOptions = { ...this.openOptions, exposureUs: got };
  }

  async setGain(db: number): Promise<void> {
    const site = callSite(this.setGain);
    expectNumber(db, 'gainDb', -1e12, 1e12);
    this.requireOpen();
    const got = await this.control(site, () => this.native.setGain(db));
    if (this.device) this.device.gainDb = got;
    this.openOptions = { ...this.openOptions, gainDb: got };
  }

  async grab(opts: GrabOptions = {}): Promise<Frame> {
    const site = callSite(this.grab);
    if (this.st !== 'open') {
      throw withCallSite(cameraError(`camera ${this.base.id} is ${this.st}`, { disconnected: this.st === 'disconnected' }), site);
    }
    if (opts.signal?.aborted) throw withCallSite(cameraError(`camera ${this.base.id}: grab canceled`, { canceled: true }), site);
    const callNs = nativeAddon().monotonicNs();
    const timeoutMs = opts.timeoutMs ?? this.base.defaultTimeoutMs ?? 5000;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.closing.signal, ...(opts.signal ? [opts.signal] : [])]);
    // Wait first, then start the exposure, so a notification that arrives while the exposure starts is not missed.
    // Whichever settles first decides: a disconnect or cancel while a producer still renders ends the grab at once.
    const waiting = this.waitFor(callNs, timeoutMs, signal);
    let startFailed = false;
    const started = this.startExposure(callNs, signal).catch((err: unknown) => {
      startFailed = true;
      throw err;
    });
    waiting.catch(() => undefined);
    started.catch(() => undefined);
    try {
      await Promise.race([started, waiting]);
      return await waiting;
    } catch (err) {
      const e = err as CameraError;
      if (startFailed && e.disconnected) this.markDisconnected(e.message);
      if (startFailed && !e.timeout && !e.disconnected) {
        if (e.canceled || signal.aborted) {
          throw withCallSite(cameraError(`camera ${this.base.id}: grab canceled`, { canceled: true }), site);
        }
        this.js.errors++;
      }
      throw withCallSite(err, site);
    } finally {
      controller.abort();
    }
  }

  /** A control call on the device; a device found gone on the way marks the source disconnected. */
  protected async control<T>(site: Error, run: () => Promise<T>): Promise<T> {
    try {
      return await viaNative(site, run);
    } catch (err) {
      if ((err as CameraError).disconnected) this.markDisconnected((err as Error).message);
      throw err;
    }
  }

  /** Starts one exposure after `callNs` (software trigger, producer render), or nothing for free-running devices. */
  protected abstract startExposure(callNs: number, signal: AbortSignal): Promise<void>;

  /** Counts a frame the source could not even start for lack of free buffers. */
  protected countDropped(): void {
    this.js.dropped++;
  }

  /** Wakes waiting grabs: called on the addon's frame notification and after a push. */
  protected poll(): void {
    for (const w of [...this.waiters]) {
      const nf = this.native.take(w.minStartNs);
      if (!nf) return;
      this.waiters.delete(w);
      w.resolve(this.toFrame(nf));
    }
  }

  /** The device or producer is gone: pending grabs reject with `disconnected`, open() may be called again. */
  protected markDisconnected(reason: string): void {
    if (this.st !== 'open') return;
    this.st = 'disconnected';
    const err = cameraError(reason, { disconnected: true });
    this.rejectAll(err);
    this.emit('disconnected', err);
  }

  protected requireOpen(): void {
    if (this.st !== 'open') throw cameraError(`camera ${this.base.id} is ${this.st}`, { disconnected: this.st === 'disconnected' });
  }

  private waitFor(minStartNs: number, timeoutMs: number, signal: AbortSignal): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        this.js.timeouts++;
        reject(cameraError(`camera ${this.base.id}: no frame within ${timeoutMs} ms`, { timeout: true }));
      }, timeoutMs);
      const onAbort = (): void => {
        done();
        reject(cameraError(`camera ${this.base.id}: grab canceled`, { canceled: true }));
      };
      const w: Waiter = {
        minStartNs,
        resolve: (f) => {
          done();
          resolve(f);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(w);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
      this.poll();
    });
  }

  private toFrame(nf: NativeFrame): Frame {
    const now = this.clock.now();
    const startMs = nf.startMs ?? now - (nativeAddon().monotonicNs() - nf.startNs) / 1e6;
    const endMs = nf.endMs ?? startMs + nf.exposureUs / 1000;
    const native = this.native;
    let released = false;
    const bitDepth = nf.pixelFormat === 'Mono8' ? 8 : nf.pixelFormat === 'Mono12' ? 12 : 16;
    return {
      data: nf.data,
      width: nf.width,
      height: nf.height,
      pixelFormat: nf.pixelFormat,
      bitDepth,
      sequence: nf.sequence,
      exposureStartMs: startMs,
      exposureEndMs: endMs,
      exposureUs: nf.exposureUs,
      gainDb: nf.gainDb,
      release: () => {
        if (released) return;
        released = true;
        // The slot goes back to the device; the view is detached so a late read cannot see the next exposure.
        native.release(nf.slot, nf.generation, nf.data);
      },
    };
  }

  private rejectAll(err: CameraError): void {
    for (const w of [...this.waiters]) w.reject(err);
    this.waiters.clear();
  }

  private onNative(event: string, detail: string): void {
    if (event === 'frame') this.poll();
    else if (event === 'disconnected') this.markDisconnected(detail);
    else if (event === 'error' && this.listenerCount('error') > 0) this.emit('error', new Error(detail));
  }
}
