/**
 * Builds the digital twin from the config's `twin` section: the sample (synthetic or real micrographs), the world
 * (stage physics, objectives, camera mount), the clock, and the adapters the composition root plugs into the ports.
 */
import { RealClock, SimClock, type Clock } from '../kernel/clock.js';
import { Dataset } from '../datasets/dataset.js';
import type { TwinConfig, TwinSampleConfig } from './config.js';
import { worldSpecFromConfig } from './config.js';
import { ImageSample } from './image-sample.js';
import type { Sample } from './sample.js';
import { SyntheticSample, surfaceFromSeed } from './synthetic-sample.js';
import type { FramePool } from '../camera/frame-pool.js';
import { TwinCamera } from './twin-camera.js';
import { TwinNosepiece } from './twin-nosepiece.js';
import { TwinStage } from './twin-stage.js';
import { TwinWorld } from './world.js';

export interface Twin {
  clock: Clock;
  sample: Sample;
  world: TwinWorld;
  camera: TwinCamera;
  nosepiece: TwinNosepiece;
  /** A Stage straight on the physics (no controller protocol). */
  directStage: TwinStage;
}

export function createClock(kind: 'simulated' | 'real'): Clock {
  return kind === 'real' ? new RealClock() : new SimClock(new Date());
}

export async function createSample(seed: number, s: TwinSampleConfig): Promise<Sample> {
  if (s.kind === 'image') {
    if (!s.dataset) throw new Error('twin.sample.dataset: missing — expected the folder of a labelled dataset when twin.sample.kind is "image"');
    const ds = Dataset.open(s.dataset, s.format ? { format: s.format } : {});
    return ImageSample.fromDataset(ds, {
      id: s.id ?? `micrographs-${seed}`,
      pixelSizeUm: s.pixelSizeUm,
      columns: s.columns,
      gapUm: s.gapUm,
      surface: surfaceFromSeed(seed, surfaceGiven(s)),
      names: s.images,
      maxImages: s.maxImages,
    });
  }
  return new SyntheticSample({
    id: s.id,
    seed,
    widthUm: s.widthUm,
    heightUm: s.heightUm,
    texture: s.texture,
    grainSizeUm: s.grainSizeUm,
    defectDensity: s.defectDensity,
    classWeights: s.classWeights,
    minSpacingUm: s.minSpacingUm,
    surface: surfaceGiven(s),
  });
}

export async function createTwin(cfg: TwinConfig, opts: { clock?: Clock; sample?: Sample; framePool?: FramePool } = {}): Promise<Twin> {
  const clock = opts.clock ?? createClock(cfg.clock);
  const sample = opts.sample ?? (await createSample(cfg.seed, cfg.sample));
  const world = new TwinWorld(worldSpecFromConfig(cfg), sample, clock);
  const camera = new TwinCamera(world, clock, opts.framePool ? { pool: opts.framePool } : {});
  return { clock, sample, world, camera, nosepiece: new TwinNosepiece(world, clock), directStage: new TwinStage(world.physics, clock) };
}

function surfaceGiven(s: TwinSampleConfig): { tiltXUmPerMm?: number; tiltYUmPerMm?: number; bowUm?: number } {
  const out: { tiltXUmPerMm?: number; tiltYUmPerMm?: number; bowUm?: number } = {};
  if (s.tiltXUmPerMm !== undefined) out.tiltXUmPerMm = s.tiltXUmPerMm;
  if (s.tiltYUmPerMm !== undefined) out.tiltYUmPerMm = s.tiltYUmPerMm;
  if (s.bowUm !== undefined) out.bowUm = s.bowUm;
  return out;
}
