/**
 * The feedback loop on the digital twin, sample after sample, as the demo and the loop benchmark run it: one
 * instrument (clock, objectives, camera, stage driver talking to its firmware simulator) that is loaded with one twin
 * sample after another, calibrated once, and scored against each sample's ground truth.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../kernel/logger.js';
import type { Clock } from '../kernel/clock.js';
import type { TwinConfig } from '../sim/config.js';
import { worldSpecFromConfig } from '../sim/config.js';
import { createTwinStage } from '../sim/firmware/twin-serial-stage.js';
import { pixelSizeUm } from '../sim/optics.js';
import type { Sample } from '../sim/sample.js';
import { scoreScan, type TwinScore } from '../sim/scoring.js';
import { createTwinFrameSource } from '../sim/twin-frame-source.js';
import type { FrameSource } from '../camera/frame-source.js';
import { TwinNosepiece } from '../sim/twin-nosepiece.js';
import { sampleOutline } from '../sim/sample-outline.js';
import { TwinWorld } from '../sim/world.js';
import { calibrate, loadCalibration, saveCalibration, type Calibration } from '../scan/calibration.js';
import { ScanControl } from '../scan/control.js';
import { runScan, type ScanResult } from '../scan/engine.js';
import type { ScanContext, ScanDetector, ScanSink } from '../scan/ports.js';
import type { Stage } from '../stage/stage.js';
import { parseRecipe, type Recipe } from '../scan/recipe.js';
import { ScanRun, type ScanDeps } from '../scan/run.js';
import { rasterScan, type RasterOptions, type RasterResult } from '../scan/raster.js';
import { ScanJournal } from '../scan/journal.js';

export interface TwinSampleJob {
  sampleId: string;
  lot: string;
  sample: Sample;
}

export interface TwinLoopOptions {
  twin: TwinConfig;
  clock: Clock;
  stateDir: string;
  logger: Logger;
  protocol: 'grbl' | 'proscan' | 'direct';
  transport: 'stream' | 'pty';
  detectors: { survey: ScanDetector; zoom: ScanDetector };
  sink: ScanSink;
  /** Recipe fields over the defaults (the outline comes from each sample). */
  recipe?: Record<string, unknown>;
  /** Render twin frames into the native addon's pool (default true; the JS ring where the addon is absent). */
  nativePool?: boolean;
  /** Real-time limit for a frame (config camera.grabTimeoutMs). */
  grabTimeoutMs?: number;
  /** Also measure the exhaustive zoom raster of each sample, on windows of fields spread over it (src/scan/raster.ts). */
  raster?: RasterOptions;
  onProgress?: (p: { sampleId: string; phase: string; done: number; total: number }) => void;
  heartbeat?: () => void;
  /** Lets an observer (the web page) wrap the scan's devices and ports. */
  wrapDeps?: <T extends ScanDeps>(deps: T) => T;
}

export interface TwinSampleResult {
  sampleId: string;
  result: ScanResult;
  score: TwinScore;
  raster?: RasterResult;
  wallMs: number;
}

export class TwinLoop {
  private calibration: Calibration | null = null;

  constructor(private readonly o: TwinLoopOptions) {}

  /** Loads a sample onto the twin instrument and builds its devices. */
  private async mount(
    sample: Sample,
  ): Promise<{ world: TwinWorld; camera: FrameSource; nosepiece: TwinNosepiece; stage: Awaited<ReturnType<typeof createTwinStage>> }> {
    const world = new TwinWorld(worldSpecFromConfig(this.o.twin), sample, this.o.clock);
    const camera = createTwinFrameSource(world, this.o.clock, {
      native: this.o.nativePool ?? true,
      ...(this.o.grabTimeoutMs ? { defaultTimeoutMs: this.o.grabTimeoutMs } : {}),
    });
    await camera.open();
    const nosepiece = new TwinNosepiece(world, this.o.clock);
    const stage = await createTwinStage(world, this.o.clock, { protocol: this.o.protocol, transport: this.o.transport, logger: this.o.logger });
    await stage.stage.connect();
    await stage.stage.home();
    return { world, camera, nosepiece, stage };
  }

  /** Calibrates on the first sample (or reads the stored calibration) — every result carries its version. */
  private async calibrationFor(world: TwinWorld, camera: FrameSource, nosepiece: TwinNosepiece, stage: Stage): Promise<Calibration> {
    if (this.calibration) return this.calibration;
    const path = join(this.o.stateDir, 'calibration.json');
    if (existsSync(path)) {
      const cal = loadCalibration(path);
      if (this.o.twin.objectives.every((ob) => cal.objectives[ob.name])) return (this.calibration = cal);
    }
    const ref = world.spec.objectives[0]!;
    const s = world.sample;
    const [x, y] = world.sampleToStage(s.widthUm / 2, s.heightUm / 2, ref);
    const nominal: Record<string, number> = {};
    const ranges: Record<string, number> = {};
    for (const ob of world.spec.objectives) {
      nominal[ob.name] = pixelSizeUm(ob, world.spec.sensor);
      ranges[ob.name] = ob === ref ? 120 : 12;
    }
    const log = this.o.logger.child({ module: 'calibrate' });
    const cal = await calibrate({
      stage,
      camera,
      nosepiece,
      clock: this.o.clock,
      at: { x, y, z: 0 },
      nominalUmPerPx: nominal,
      focusRangeUm: ranges,
      log: (m) => log.info(m),
    });
    mkdirSync(this.o.stateDir, { recursive: true });
    saveCalibration(path, cal);
    return (this.calibration = cal);
  }

  async scanSample(job: TwinSampleJob, scanId: string, control = new ScanControl()): Promise<TwinSampleResult> {
    const t0 = performance.now();
    const { world, camera, nosepiece, stage } = await this.mount(job.sample);
    try {
      const cal = await this.calibrationFor(world, camera, nosepiece, stage.stage);
      const recipe: Recipe = parseRecipe({ id: 'twin-demo', version: '1', ...this.o.recipe, outline: sampleOutline(world) }, 'demo recipe');
      const deps = {
        camera,
        stage: stage.stage,
        nosepiece,
        clock: this.o.clock,
        surveyDetector: this.o.detectors.survey,
        zoomDetector: this.o.detectors.zoom,
        sink: this.o.sink,
        calibration: cal,
        stateDir: this.o.stateDir,
        logger: this.o.logger,
        ...(this.o.heartbeat ? { heartbeat: this.o.heartbeat } : {}),
        onProgress: (p: { phase: string; done: number; total: number }) => this.o.onProgress?.({ sampleId: job.sampleId, ...p }),
      };
      const result = await runScan(this.o.wrapDeps?.(deps) ?? deps, { scanId, sampleId: job.sampleId, lot: job.lot, recipe }, control);
      const o = recipe.outline;
      const zoomCal = cal.objectives[recipe.zoom.objective]!;
      const score = scoreScan(
        world,
        [o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm],
        result.defects,
        result.outcomes,
        result.targets,
        zoomCal.fieldUm,
        recipe.classes,
      );
      let raster: RasterResult | undefined;
      if (this.o.raster) {
        // The baseline on the same sample, through the same devices (a fresh journal: it publishes nothing).
        const journal = new ScanJournal(join(this.o.stateDir, 'raster'), `${scanId}-raster`);
        try {
          const context: ScanContext = {
            ...result.summary,
            scanId: `${scanId}-raster`,
            surveyModel: this.o.detectors.survey.id,
            zoomModel: this.o.detectors.zoom.id,
          };
          const silent: ScanSink = { defect: async () => undefined, scan: async () => undefined };
          const run = new ScanRun({ ...deps, sink: silent }, recipe, context, new ScanControl(), journal);
          run.control.set('running');
          raster = await rasterScan(run, this.o.raster);
        } finally {
          journal.close();
        }
      }
      return { sampleId: job.sampleId, result, score, ...(raster ? { raster } : {}), wallMs: performance.now() - t0 };
    } finally {
      await camera.close();
      await stage.close();
    }
  }
}
