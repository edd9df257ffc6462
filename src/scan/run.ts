/**
 * One scan of one sample in progress: the devices, the recipe, calibration, journal, focus map and time account,
 * with the small operations survey and zoom share.
 */
import type { Frame, FrameSource, Roi } from '../camera/frame-source.js';
import type { Nosepiece } from '../camera/nosepiece.js';
import type { ObjectiveCalibration } from '../geometry/affine.js';
import type { Clock } from '../kernel/clock.js';
import type { Logger } from '../kernel/logger.js';
import type { Stage, StagePose } from '../stage/stage.js';
import { TimeAccount } from './accounting.js';
import type { Calibration } from './calibration.js';
import type { ScanControl } from './control.js';
import { FocusMap, solve } from './focus.js';
import type { ScanJournal } from './journal.js';
import type { ScanContext, ScanDetector, ScanRecorder, ScanSink } from './ports.js';
import type { Recipe } from './recipe.js';
import type { Candidate } from './survey.js';

export interface ScanDeps {
  camera: FrameSource;
  stage: Stage;
  nosepiece: Nosepiece;
  clock: Clock;
  surveyDetector: ScanDetector;
  zoomDetector: ScanDetector;
  sink: ScanSink;
  /** Traceability records (the appliance database); none in the demo and benchmarks. */
  recorder?: ScanRecorder;
  calibration: Calibration;
  /** Journals and report images go here. */
  stateDir: string;
  logger: Logger;
  /** Called whenever the pipeline makes progress (feeds the systemd watchdog). */
  heartbeat?: () => void;
  onProgress?: (p: { scanId: string; phase: string; done: number; total: number }) => void;
}

export interface OverviewTile {
  pose: { x: number; y: number };
  /** Downsampled 8-bit grey. */
  pixels: Uint8Array;
  width: number;
  height: number;
  bin: number;
}

export class ScanRun {
  readonly account: TimeAccount;
  readonly log: Logger;
  surveyFieldCount = 0;
  discardedFrames = 0;
  readonly overview: OverviewTile[] = [];
  private readonly map = new FocusMap();
  private readonly focusPts: Array<{ x: number; y: number; z: number }> = [];
  private readonly tiles = new Map<number, Candidate[]>();
  /** Zoom-level focus corrections: where the map was off, and by how much. */
  private readonly zoomCorrections: Array<{ x: number; y: number; dz: number }> = [];
  private lastProgress = -Infinity;

  constructor(
    readonly deps: ScanDeps,
    readonly recipe: Recipe,
    readonly context: ScanContext,
    readonly control: ScanControl,
    readonly journal: ScanJournal,
    carriedTime?: Record<string, number>,
  ) {
    this.account = new TimeAccount(deps.clock, carriedTime);
    this.log = deps.logger.child({ module: 'scan', scanId: context.scanId });
  }

  objectiveCal(name: string): ObjectiveCalibration & { zOffsetUm: number; fieldUm: [number, number] } {
    const c = this.deps.calibration.objectives[name];
    if (!c) throw new Error(`calibration ${this.deps.calibration.version} has no objective "${name}"; run "smartscope calibrate"`);
    return c;
  }

  umPerPx(name: string): number {
    const m = this.objectiveCal(name).pixelToStage;
    return Math.sqrt(Math.abs(m[0] * m[3] - m[1] * m[2]));
  }

  /** Puts the optical axis of `objective` over stage point (x, y) (reference frame), at focus z. */
  async moveTo(objective: string, x: number, y: number, z: number): Promise<StagePose> {
    const off = this.objectiveCal(objective).offsetUm;
    return this.deps.stage.moveTo({ x: x - off[0], y: y - off[1], z }, { signal: this.control.signal });
  }

  centralRoi(side: number): Roi | null {
    const info = this.deps.camera.info();
    const w = Math.min(side, info.width);
    const h = Math.min(side, info.height);
    if (w >= info.width && h >= info.height) return null;
    return { x: Math.floor((info.width - w) / 2), y: Math.floor((info.height - h) / 2), width: w, height: h };
  }

  /** A frame whose exposure started after the stage settled; frames taken while it moved are discarded and counted. */
  async grabStill(settledAt: number): Promise<{ frame: Frame; discarded: number }> {
    let discarded = 0;
    for (;;) {
      // The camera's own grab limit applies: a few seconds for hardware, longer for the twin, which renders on the CPU.
      const frame = await this.deps.camera.grab({ signal: this.control.signal });
      if (frame.exposureStartMs >= settledAt) return { frame, discarded };
      frame.release();
      discarded++;
      this.discardedFrames++;
      if (discarded > 5) throw new Error('camera keeps delivering frames exposed before the stage settled');
    }
  }

  focusPoints(): Array<{ x: number; y: number; z: number }> {
    return this.focusPts;
  }

  /** A focus point in the reference objective's z (measured z minus the objective's z offset). */
  addFocusPoint(x: number, y: number, zRef: number, objective: string, journal = true): void {
    this.focusPts.push({ x, y, z: zRef });
    this.map.add(x, y, zRef);
    if (journal) this.journal.append({ t: 'focus', x, y, z: zRef, objective });
  }

  /** Zoom refinements correct the map locally: nearby later targets start closer to focus. */
  addZoomCorrection(x: number, y: number, zRef: number): void {
    this.zoomCorrections.push({ x, y, dz: zRef - this.map.at(x, y) });
  }

  /** Distance (µm) to the nearest place a zoom field was focused, Infinity when none yet. */
  nearestCorrectionUm(x: number, y: number): number {
    let best = Infinity;
    for (const c of this.zoomCorrections) best = Math.min(best, Math.hypot(c.x - x, c.y - y));
    return best;
  }

  /** Predicted focus z for `objective` at stage (x, y). */
  focusZ(objective: string, x: number, y: number, fallback: number): number {
    const off = this.objectiveCal(objective).zOffsetUm;
    if (this.map.size === 0) return fallback + off;
    let z = this.map.at(x, y);
    // Zoom refinements nearby correct the map: a plane through the corrections within 1 mm (weighted towards the
    // nearest), or their weighted mean when there are fewer than three.
    const near = this.zoomCorrections
      .map((c) => ({ ...c, d: Math.hypot(c.x - x, c.y - y) }))
      .filter((c) => c.d <= 1000)
      .sort((a, b) => a.d - b.d)
      .slice(0, 8);
    if (near.length > 0) z += localCorrection(near, x, y);
    return z + off;
  }

  recordTile(index: number, pose: { x: number; y: number; z: number }, candidates: Candidate[], discarded: number, capturedAt: string): void {
    const o = this.overview[index];
    this.deps.recorder?.surveyTile(this.context, {
      index,
      pose,
      objective: this.recipe.survey.objective,
      capturedAt,
      candidates: candidates.length,
      ...(o ? { image: { pixels: o.pixels, width: o.width, height: o.height } } : {}),
    });
    this.tiles.set(index, candidates);
    this.journal.append({ t: 'tile', index, pose, candidates, discardedFrames: discarded });
  }

  restoreTile(index: number, candidates: Candidate[]): void {
    this.tiles.set(index, candidates);
  }

  tilesDone(): Set<number> {
    return new Set(this.tiles.keys());
  }

  surveyCandidates(): Candidate[] {
    return [...this.tiles.values()].flat();
  }

  /** Keeps a downsampled copy of a survey field for the report image. */
  keepOverview(index: number, frame: Frame, pose: { x: number; y: number }): void {
    const bin = Math.max(1, Math.ceil(Math.max(frame.width, frame.height) / 512));
    const w = Math.floor(frame.width / bin);
    const h = Math.floor(frame.height / bin);
    const out = new Uint8Array(w * h);
    const shift = frame.bitDepth - 8;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let j = 0; j < bin; j++) for (let i = 0; i < bin; i++) s += frame.data[(y * bin + j) * frame.width + x * bin + i]!;
        out[y * w + x] = Math.min(255, (s / (bin * bin)) >> shift);
      }
    }
    this.overview[index] = { pose, pixels: out, width: w, height: h, bin };
  }

  progress(phase: string, done: number, total: number): void {
    this.deps.onProgress?.({ scanId: this.context.scanId, phase, done, total });
    const now = this.deps.clock.now();
    if (done === total || now - this.lastProgress > 5000) {
      this.lastProgress = now;
      void this.deps.sink
        .scan({ kind: 'progress', context: this.context, at: this.deps.clock.wallTime().toISOString(), phase, done, total, state: this.control.state })
        .catch((err: Error) => this.log.warn({ err: err.message }, 'progress event not written'));
    }
  }
}

/** Weighted least-squares plane dz = a + b·(x − x0) + c·(y − y0) through nearby corrections, evaluated at (x0, y0). */
function localCorrection(near: Array<{ x: number; y: number; dz: number; d: number }>, x0: number, y0: number): number {
  const w = near.map((c) => 1 / (c.d + 50));
  const wsum = w.reduce((a, b) => a + b, 0);
  const mean = near.reduce((a, c, i) => a + w[i]! * c.dz, 0) / wsum;
  if (near.length < 3) return mean;
  const A = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const b = [0, 0, 0];
  near.forEach((c, i) => {
    const v = [1, (c.x - x0) / 1000, (c.y - y0) / 1000];
    for (let r = 0; r < 3; r++) {
      b[r]! += w[i]! * v[r]! * c.dz;
      for (let k = 0; k < 3; k++) A[r]![k]! += w[i]! * v[r]! * v[k]!;
    }
  });
  // Collinear points leave the plane's tilt undetermined: fall back to the mean.
  const det =
    A[0]![0]! * (A[1]![1]! * A[2]![2]! - A[1]![2]! * A[2]![1]!) -
    A[0]![1]! * (A[1]![0]! * A[2]![2]! - A[1]![2]! * A[2]![0]!) +
    A[0]![2]! * (A[1]![0]! * A[2]![1]! - A[1]![1]! * A[2]![0]!);
  if (Math.abs(det) < 1e-12 * Math.pow(wsum, 3)) return mean;
  return solve(A, b)[0]!;
}
