/**
 * The stage the `stage` section's defaults describe: a 100 × 100 mm XY stage at 20 mm/s with a 1 mm focus drive,
 * as on common industrial inspection microscopes. The twin's default stage is built to these figures.
 */
import type { StageAxis } from './stage.js';

export interface StageAxisLimits {
  minUm: number;
  maxUm: number;
  maxSpeedUmPerS: number;
  accelUmPerS2: number;
}

export const DEFAULT_STAGE_AXES: Readonly<Record<StageAxis, Readonly<StageAxisLimits>>> = {
  x: { minUm: 0, maxUm: 100_000, maxSpeedUmPerS: 20_000, accelUmPerS2: 100_000 },
  y: { minUm: 0, maxUm: 100_000, maxSpeedUmPerS: 20_000, accelUmPerS2: 100_000 },
  z: { minUm: -500, maxUm: 500, maxSpeedUmPerS: 2_000, accelUmPerS2: 20_000 },
};
