/**
 * A small twin instrument for scan-engine tests: 512² sensor (5×: 666 µm fields, 50×: 67 µm), a 1.4 mm sample, GRBL
 * over an in-process link to its firmware simulator, the shipped survey and zoom models, and a calibration from the
 * optics (the calibration routine has its own test).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTwinFrameSource } from '../../src/sim/twin-frame-source.js';
import type { FrameSource } from '../../src/camera/frame-source.js';
import { parseConfig } from '../../src/config/load.js';
import { sampleOutline } from '../../src/sim/sample-outline.js';
import { openDetector } from '../../src/inference/factory.js';
import type { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { scanDetector } from '../../src/appliance/scan-detector.js';
import { SimClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MemoryEventSink } from '../../src/publish/index.js';
import { scanSinkFor } from '../../src/appliance/scan-sink.js';
import { parseRecipe, type Recipe } from '../../src/scan/recipe.js';
import type { ScanDeps } from '../../src/scan/run.js';
import type { ScanSink } from '../../src/scan/ports.js';
import { worldSpecFromConfig } from '../../src/sim/config.js';
import { createTwinStage, type TwinStageRig } from '../../src/sim/firmware/twin-serial-stage.js';
import { twinNominalCalibration } from '../../src/sim/nominal-calibration.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import { TwinNosepiece } from '../../src/sim/twin-nosepiece.js';
import { TwinWorld } from '../../src/sim/world.js';

export interface ScanRig {
  deps: ScanDeps;
  world: TwinWorld;
  sink: MemoryEventSink;
  stage: TwinStageRig;
  camera: FrameSource;
  recipe: Recipe;
  close(): Promise<void>;
}

export async function scanRig(opts: { seed?: number; density?: number; sizeUm?: number; stateDir?: string; sink?: ScanSink } = {}): Promise<ScanRig> {
  const cfg = parseConfig({ twin: { sensor: { widthPx: 512, heightPx: 512 } } });
  const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
  const sample = new SyntheticSample({
    seed: opts.seed ?? 11,
    widthUm: opts.sizeUm ?? 1400,
    heightUm: opts.sizeUm ?? 1400,
    defectDensity: opts.density ?? 0.006,
  });
  const world = new TwinWorld(worldSpecFromConfig(cfg.twin), sample, clock);
  const camera = createTwinFrameSource(world, clock);
  await camera.open();
  const stage = await createTwinStage(world, clock, { protocol: 'grbl', transport: 'stream' });
  await stage.stage.connect();
  const inference = cfg.inference;
  const survey: OnnxDetector = await openDetector(inference, 'survey');
  const zoom: OnnxDetector = await openDetector(inference, 'zoom');
  const calibration = twinNominalCalibration(world.spec);
  const sink = new MemoryEventSink(cfg.device, clock);
  const deps: ScanDeps = {
    camera,
    stage: stage.stage,
    nosepiece: new TwinNosepiece(world, clock),
    clock,
    surveyDetector: scanDetector(survey, { probabilityMaxSide: 128 }),
    zoomDetector: scanDetector(zoom, { probabilityMaxSide: 128 }),
    sink: opts.sink ?? scanSinkFor(sink),
    calibration,
    stateDir: opts.stateDir ?? mkdtempSync(join(tmpdir(), 'smartscope-scan-')),
    logger: silentLogger(),
  };
  const recipe = parseRecipe({ id: 'test', outline: sampleOutline(world), survey: { focus: { gridPoints: 2 } } });
  return {
    deps,
    world,
    sink,
    stage,
    camera,
    recipe,
    async close() {
      await survey.close();
      await zoom.close();
      await camera.close();
      await stage.close();
    },
  };
}
