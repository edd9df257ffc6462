/**
 * The twin's default instrument: a reflected-light microscope with a 5×/0.15 survey objective and a 50×/0.80 zoom
 * objective on a 2048 × 2048, 6.5 µm-pitch sCMOS sensor, on a 100 × 100 mm stage with a 1 mm focus drive.
 * Values are those of common industrial inspection microscopes; every one can be overridden in the config's `twin`
 * section.
 */
import { DEFAULT_STAGE_AXES } from '../stage/defaults.js';
import type { WorldSpec } from './world.js';

export function defaultWorldSpec(): WorldSpec {
  return {
    objectives: [
      { name: '5x', magnification: 5, numericalAperture: 0.15, parfocalOffsetUm: 0, centringOffsetUm: [0, 0] },
      { name: '50x', magnification: 50, numericalAperture: 0.8, parfocalOffsetUm: 3.2, centringOffsetUm: [14.5, -9.0] },
    ],
    sensor: { widthPx: 2048, heightPx: 2048, pixelPitchUm: 6.5, bitDepth: 12, fullWellE: 15000, readNoiseE: 2.2, darkOffsetAdu: 100 },
    illumination: { electronsPerMs: 9000, vignetting: 0.25, gradient: [0.04, -0.03] },
    camera: { rotationDeg: 0.6, flipX: false },
    stage: {
      x: { ...DEFAULT_STAGE_AXES.x, backlashUm: 1.5 },
      y: { ...DEFAULT_STAGE_AXES.y, backlashUm: 1.5 },
      z: { ...DEFAULT_STAGE_AXES.z, backlashUm: 0.2 },
      settleMs: 60,
      ringingUm: 0.8,
    },
    mount: { xUm: 40_000, yUm: 40_000, rotationDeg: 0.3 },
    objectiveChangeMs: 1500,
  };
}
