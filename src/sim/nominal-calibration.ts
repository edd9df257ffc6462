/**
 * The calibration the twin's optics imply (pixel size, rotation, flip, centring and parfocal offsets per objective),
 * for tests and benchmarks that measure something other than calibrating. `smartscope calibrate` measures it instead.
 */
import { nominalCalibration, type Calibration } from '../scan/calibration.js';
import { pixelSizeUm } from './optics.js';
import type { WorldSpec } from './world.js';

export function twinNominalCalibration(spec: WorldSpec): Calibration {
  return nominalCalibration(
    spec.objectives.map((o) => ({
      name: o.name,
      umPerPx: pixelSizeUm(o, spec.sensor),
      rotationRad: (spec.camera.rotationDeg * Math.PI) / 180,
      flipX: spec.camera.flipX,
      offsetUm: o.centringOffsetUm,
      zOffsetUm: -o.parfocalOffsetUm,
      sensor: [spec.sensor.widthPx, spec.sensor.heightPx] as [number, number],
    })),
  );
}
