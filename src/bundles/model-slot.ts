/**
 * One model role (survey or zoom) in the running daemon, and the hot swap between versions.
 *
 * The pipeline runs every inference through `use()`, which takes the current model at the start of the call: a swap
 * therefore happens between frames. `swapTo()` loads and warms up the new version while the old one keeps serving,
 * switches the pointer, and closes the old version once its in-flight calls have finished.
 *
 * After a swap to a newly installed version the slot is on probation: errors, p95 latency and detections per frame
 * are compared with the previous version's recent figures, and when the new version degrades the slot calls
 * `onDegraded` (the daemon rolls back and swaps again).
 */
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { ProbationConfig } from './config.js';
import type { ModelRole } from './manifest.js';
import type { ActiveModel } from './store.js';

/** A model loaded by the inference runtime. */
export interface LoadedModel {
  /** name@version */
  readonly id: string;
  /** Runs `runs` inferences on representative input so the first real frame does not pay for lazy initialisation. */
  warmup(runs: number): Promise<void>;
  close(): Promise<void>;
}

/** Builds a LoadedModel from an installed, verified version (the inference runtime's factory). */
export type ModelLoader<M extends LoadedModel> = (active: ActiveModel) => Promise<M>;

interface Sample {
  ok: boolean;
  latencyMs: number;
  detections: number;
}

export interface WindowStats {
  frames: number;
  errorRate: number;
  p95LatencyMs: number;
  detectionsPerFrame: number;
}

function stats(samples: readonly Sample[]): WindowStats {
  const ok = samples.filter((s) => s.ok);
  const lat = ok.map((s) => s.latencyMs).sort((a, b) => a - b);
  return {
    frames: samples.length,
    errorRate: samples.length ? (samples.length - ok.length) / samples.length : 0,
    p95LatencyMs: lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))]! : 0,
    detectionsPerFrame: ok.length ? ok.reduce((a, s) => a + s.detections, 0) / ok.length : 0,
  };
}

/** Detections per frame compared with +0.1 smoothing, so a baseline of zero does not make every change infinite. */
const DETECTION_SMOOTHING = 0.1;

/** Why a probation failed, or null while the new version looks healthy. */
export function judgeProbation(p: ProbationConfig, now: WindowStats, baseline: WindowStats | null): string | null {
  if (now.frames < p.minFrames) return null;
  if (now.errorRate > p.maxErrorRate) return `error rate ${(now.errorRate * 100).toFixed(1)}% exceeds ${(p.maxErrorRate * 100).toFixed(1)}%`;
  if (!baseline || baseline.frames < p.minFrames) return null;
  if (baseline.p95LatencyMs > 0 && now.p95LatencyMs / baseline.p95LatencyMs > p.maxLatencyRatio) {
    return `p95 latency ${now.p95LatencyMs.toFixed(1)} ms is ${(now.p95LatencyMs / baseline.p95LatencyMs).toFixed(2)}× the previous model's ${baseline.p95LatencyMs.toFixed(1)} ms (limit ${p.maxLatencyRatio}×)`;
  }
  const ratio = (now.detectionsPerFrame + DETECTION_SMOOTHING) / (baseline.detectionsPerFrame + DETECTION_SMOOTHING);
  if (ratio < p.minDetectionRatio || ratio > p.maxDetectionRatio) {
    return `${now.detectionsPerFrame.toFixed(2)} detections per frame against the previous model's ${baseline.detectionsPerFrame.toFixed(2)} (ratio ${ratio.toFixed(2)}, allowed ${p.minDetectionRatio}–${p.maxDetectionRatio})`;
  }
  return null;
}

export interface SlotOptions {
  warmupRuns: number;
  probation: ProbationConfig;
  log?: Logger;
  metrics?: Metrics;
  /** Called once when a version on probation degrades. */
  onDegraded?: (role: ModelRole, id: string, reason: string, stats: WindowStats) => void;
  /** Called once when a version passes its probation. */
  onProbationPassed?: (role: ModelRole, id: string, stats: WindowStats) => void;
}

const WINDOW = 500;

export class ModelSlot<M extends LoadedModel> {
  private model: M | null = null;
  private readonly inflight = new Map<M, number>();
  private readonly drained = new Map<M, () => void>();
  private recent: Sample[] = [];
  private baseline: WindowStats | null = null;
  private probationUntil = 0;
  private judged = true;
  /** Whether the current model's figures may serve as the next baseline (it passed probation or never needed one). */
  private trusted = true;
  private swapping: Promise<void> = Promise.resolve();

  constructor(
    readonly role: ModelRole,
    private readonly loader: ModelLoader<M>,
    private readonly opts: SlotOptions,
  ) {}

  get current(): M | null {
    return this.model;
  }

  get onProbation(): boolean {
    return !this.judged;
  }

  recentStats(): WindowStats {
    return stats(this.recent);
  }

  /**
   * Runs `fn` on the current model, measuring it. `countDetections` turns the result into a number of detections for
   * the probation's detection-rate check.
   */
  async use<T>(fn: (m: M) => Promise<T>, countDetections: (r: T) => number = () => 0): Promise<T> {
    const m = this.model;
    if (!m) throw Object.assign(new Error(`no ${this.role} model is loaded`), { noModel: true });
    this.inflight.set(m, (this.inflight.get(m) ?? 0) + 1);
    const t0 = performance.now();
    try {
      const r = await fn(m);
      this.record(m, { ok: true, latencyMs: performance.now() - t0, detections: countDetections(r) });
      return r;
    } catch (err) {
      this.record(m, { ok: false, latencyMs: performance.now() - t0, detections: 0 });
      throw err;
    } finally {
      const n = (this.inflight.get(m) ?? 1) - 1;
      if (n > 0) this.inflight.set(m, n);
      else {
        this.inflight.delete(m);
        this.drained.get(m)?.();
      }
    }
  }

  /**
   * Loads `active`, warms it up, then makes it current and closes the previous version after its last call.
   * With `probation`, the new version is watched against the previous one's recent figures.
   */
  swapTo(active: ActiveModel, probation: boolean): Promise<void> {
    const next = this.swapping.then(() => this.doSwap(active, probation));
    this.swapping = next.catch(() => {});
    return next;
  }

  private async doSwap(active: ActiveModel, probation: boolean): Promise<void> {
    if (this.model?.id === active.id) return;
    const t0 = performance.now();
    const fresh = await this.loader(active);
    try {
      await fresh.warmup(this.opts.warmupRuns);
    } catch (err) {
      await fresh.close().catch(() => {});
      throw err;
    }
    const old = this.model;
    // A model that failed (or has not finished) its probation is no yardstick: keep the last trusted figures.
    if (!old) this.baseline = null;
    else if (this.trusted) this.baseline = stats(this.recent);
    this.recent = [];
    this.model = fresh;
    this.judged = !(probation && this.opts.probation.durationS > 0 && old !== null);
    this.trusted = this.judged;
    this.probationUntil = performance.now() + this.opts.probation.durationS * 1000;
    this.opts.metrics?.setActiveModel(this.role, fresh.id);
    if (old) this.opts.metrics?.modelSwaps.inc({ role: this.role });
    this.opts.log?.info(
      { role: this.role, from: old?.id ?? null, to: fresh.id, loadMs: Math.round(performance.now() - t0), probation: !this.judged },
      'model swapped',
    );
    if (old) void this.closeWhenDrained(old);
  }

  private async closeWhenDrained(m: M): Promise<void> {
    if (this.inflight.has(m)) await new Promise<void>((resolve) => this.drained.set(m, resolve));
    this.drained.delete(m);
    await m.close().catch((err: Error) => this.opts.log?.warn({ id: m.id, err: err.message }, 'closing the previous model failed'));
  }

  private record(m: M, s: Sample): void {
    if (m !== this.model) return; // A call that straddled a swap belongs to neither window.
    this.recent.push(s);
    if (this.recent.length > WINDOW) this.recent.shift();
    const metrics = this.opts.metrics;
    if (metrics) {
      if (s.ok) {
        metrics.inferenceLatency.observe({ role: this.role }, s.latencyMs / 1000);
        if (s.detections) metrics.detections.inc({ role: this.role }, s.detections);
      } else metrics.inferenceErrors.inc({ role: this.role });
    }
    if (this.judged) return;
    const now = stats(this.recent);
    const verdict = judgeProbation(this.opts.probation, now, this.baseline);
    if (verdict) {
      this.judged = true;
      this.opts.log?.error({ role: this.role, id: m.id, reason: verdict, stats: now, baseline: this.baseline }, 'model failed its probation');
      this.opts.onDegraded?.(this.role, m.id, verdict, now);
    } else if (performance.now() >= this.probationUntil && now.frames >= this.opts.probation.minFrames) {
      this.judged = true;
      this.trusted = true;
      this.opts.log?.info({ role: this.role, id: m.id, stats: now }, 'model passed its probation');
      this.opts.onProbationPassed?.(this.role, m.id, now);
    }
  }

  /** Closes the current model after in-flight calls finish. */
  async close(): Promise<void> {
    await this.swapping;
    const m = this.model;
    this.model = null;
    if (m) await this.closeWhenDrained(m);
  }
}
