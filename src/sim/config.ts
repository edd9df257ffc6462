/**
 * Config section `twin`: the digital twin that stands in for the microscope when no hardware is configured.
 */
import { arr, bool, int, num, obj, oneOf, pair, str, type Schema } from '../kernel/schema-kit.js';
import { defaultWorldSpec } from './defaults.js';
import type { ObjectiveSpec } from './optics.js';
import type { WorldSpec } from './world.js';

const d = defaultWorldSpec();

const axis = (name: string, a: WorldSpec['stage']['x']): Schema =>
  obj(`Stage ${name} axis.`, {
    minUm: num(`Lower end of ${name} travel.`, a.minUm, -1e6, 1e6, 'µm'),
    maxUm: num(`Upper end of ${name} travel.`, a.maxUm, -1e6, 1e6, 'µm'),
    maxSpeedUmPerS: num(`Maximum ${name} speed.`, a.maxSpeedUmPerS, 1, 1e6, 'µm/s'),
    accelUmPerS2: num(`${name} acceleration.`, a.accelUmPerS2, 1, 1e8, 'µm/s²'),
    backlashUm: num(`Play in the ${name} drive: the carriage lags by this much after the direction reverses.`, a.backlashUm, 0, 100, 'µm'),
  });

export const objectiveSchema: Schema = obj(
  'One objective on the turret.',
  {
    name: str('Name used by recipes and calibration (e.g. "5x").', undefined, { minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
    magnification: num('Magnification onto the sensor.', undefined, 0.5, 200),
    numericalAperture: num('Numerical aperture (sets diffraction and defocus blur).', undefined, 0.01, 1.4),
    parfocalOffsetUm: num('Height of this objective’s focal plane above the reference objective’s.', 0, -1000, 1000, 'µm'),
    centringOffsetUm: pair('Offset of this objective’s optical axis from the reference objective’s, in stage µm.', [0, 0], 'µm'),
  },
  { required: ['name', 'magnification', 'numericalAperture'], filled: false },
);

export const twinSampleSchema: Schema = obj('The simulated sample.', {
  kind: oneOf('Synthetic texture with generated defects, or real micrographs with their label masks.', ['synthetic', 'image'] as const, 'synthetic'),
  id: str('Sample id carried by records and events (default: twin-<seed>).'),
  widthUm: num('Sample width (synthetic).', 10_000, 100, 50_000, 'µm'),
  heightUm: num('Sample height (synthetic).', 10_000, 100, 50_000, 'µm'),
  texture: oneOf('Surface texture (synthetic).', ['grains', 'die'] as const, 'grains'),
  grainSizeUm: num('Mean grain size, or die cell pitch (synthetic).', 35, 2, 2000, 'µm'),
  defectDensity: num('Area fraction covered by defects (synthetic).', 0.005, 0.0005, 0.05),
  classWeights: obj('Relative number of defects per class (synthetic).', {
    scratch: num('Weight of scratches.', 1, 0, 100),
    pit: num('Weight of pits and pores.', 1, 0, 100),
    particle: num('Weight of particles and inclusions.', 1, 0, 100),
    crack: num('Weight of cracks.', 1, 0, 100),
  }),
  minSpacingUm: num('Minimum clear gap between two defects (synthetic).', 4, 0, 1000, 'µm'),
  dataset: str('Folder of a labelled dataset (kind image): one of the formats `dataset export` writes or reads.'),
  format: oneOf(
    'Dataset format (kind image): mask-tiff (image + class-value mask), color-mask (colour-painted mask), labelme (polygons), twin (this product’s export). Detected when left out.',
    ['mask-tiff', 'color-mask', 'labelme', 'twin'] as const,
  ),
  images: arr('Image names (without folder) to mount, in order; all images of the dataset when left out.', { type: 'string' }),
  maxImages: int('Mount at most this many images (kind image).', 16, 1, 1000),
  pixelSizeUm: num('Pixel size of the micrographs at the sample (kind image).', 0.1, 0.001, 100, 'µm'),
  columns: int('Images per row of the mosaic (kind image).', 4, 1, 100),
  gapUm: num('Gap between mounted images (kind image).', 20, 0, 10_000, 'µm'),
  tiltXUmPerMm: num('Surface tilt along x (left out: drawn from the seed).', undefined, -50, 50, 'µm/mm'),
  tiltYUmPerMm: num('Surface tilt along y (left out: drawn from the seed).', undefined, -50, 50, 'µm/mm'),
  bowUm: num('Surface bow, centre to corner (left out: drawn from the seed).', undefined, -100, 100, 'µm'),
});

export const twinSchema: Schema = obj('The digital twin: a simulated sample, optics, camera and stage.', {
  seed: int('Seed: the same seed renders the same sample and pixels.', 1, 0, 4294967295),
  clock: oneOf(
    'simulated: instrument time jumps over waits (runs faster than real time, reports instrument time); real: waits take wall time.',
    ['simulated', 'real'] as const,
    'simulated',
  ),
  sample: twinSampleSchema,
  objectives: arr('Objectives on the turret; the first is the reference for calibration offsets.', objectiveSchema, {
    minItems: 1,
    default: d.objectives,
  }),
  sensor: obj('Camera sensor.', {
    widthPx: int('Sensor width.', d.sensor.widthPx, 16, 8192, 'px'),
    heightPx: int('Sensor height.', d.sensor.heightPx, 16, 8192, 'px'),
    pixelPitchUm: num('Physical pixel pitch.', d.sensor.pixelPitchUm, 0.5, 50, 'µm'),
    bitDepth: { type: 'integer', enum: [8, 12, 16], default: d.sensor.bitDepth, description: 'Bits per pixel of the output.' },
    fullWellE: num('Full-well capacity.', d.sensor.fullWellE, 100, 1e6, 'e-'),
    readNoiseE: num('Read noise.', d.sensor.readNoiseE, 0, 100, 'e-'),
    darkOffsetAdu: num('Black level.', d.sensor.darkOffsetAdu, 0, 1000, 'ADU'),
  }),
  illumination: obj('Illumination.', {
    electronsPerMs: num('Photoelectrons per pixel per ms of exposure at reflectance 1.', d.illumination.electronsPerMs, 1, 1e7, 'e-/ms'),
    vignetting: num('Relative intensity lost in the field corners.', d.illumination.vignetting, 0, 0.9),
    gradient: pair('Linear illumination gradient to the right and bottom edges (relative).', d.illumination.gradient),
  }),
  camera: obj('How the camera is mounted.', {
    rotationDeg: num('Rotation of image columns relative to stage +x.', d.camera.rotationDeg, -180, 180, '°'),
    flipX: bool('Image mirrored left-right relative to the stage.', d.camera.flipX),
  }),
  stage: obj('Stage mechanics.', {
    x: axis('x', d.stage.x),
    y: axis('y', d.stage.y),
    z: axis('z', d.stage.z),
    settleMs: num('Time after a move until vibration has died down.', d.stage.settleMs, 0, 10_000, 'ms'),
    ringingUm: num('Peak vibration right after a move at full speed.', d.stage.ringingUm, 0, 100, 'µm'),
  }),
  mount: obj('Where the sample sits on the stage.', {
    xUm: num('Stage x at which the sample origin is on the reference optical axis.', d.mount.xUm, -1e6, 1e6, 'µm'),
    yUm: num('Stage y at which the sample origin is on the reference optical axis.', d.mount.yUm, -1e6, 1e6, 'µm'),
    rotationDeg: num('Rotation of the sample on the stage.', d.mount.rotationDeg, -180, 180, '°'),
  }),
  objectiveChangeMs: num('Time the turret takes to change objectives.', d.objectiveChangeMs, 0, 60_000, 'ms'),
});

export interface TwinSampleConfig {
  kind: 'synthetic' | 'image';
  id?: string;
  widthUm: number;
  heightUm: number;
  texture: 'grains' | 'die';
  grainSizeUm: number;
  defectDensity: number;
  classWeights: { scratch: number; pit: number; particle: number; crack: number };
  minSpacingUm: number;
  dataset?: string;
  format?: 'mask-tiff' | 'color-mask' | 'labelme' | 'twin';
  images?: string[];
  maxImages: number;
  pixelSizeUm: number;
  columns: number;
  gapUm: number;
  tiltXUmPerMm?: number;
  tiltYUmPerMm?: number;
  bowUm?: number;
}

export interface TwinConfig {
  seed: number;
  clock: 'simulated' | 'real';
  sample: TwinSampleConfig;
  objectives: ObjectiveSpec[];
  sensor: WorldSpec['sensor'];
  illumination: WorldSpec['illumination'];
  camera: WorldSpec['camera'];
  stage: WorldSpec['stage'];
  mount: WorldSpec['mount'];
  objectiveChangeMs: number;
}

export function worldSpecFromConfig(t: TwinConfig): WorldSpec {
  return {
    objectives: t.objectives.map((o) => ({ ...o, parfocalOffsetUm: o.parfocalOffsetUm ?? 0, centringOffsetUm: o.centringOffsetUm ?? [0, 0] })),
    sensor: t.sensor,
    illumination: t.illumination,
    camera: t.camera,
    stage: t.stage,
    mount: t.mount,
    objectiveChangeMs: t.objectiveChangeMs,
  };
}
