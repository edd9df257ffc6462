/**
 * Stage µm ↔ controller units, per axis: stage = origin + direction × controller / unitsPerUm. What a controller unit
 * is belongs to the protocol (GRBL: mm, or inches with $13=1; ProScan: counts at the RES resolution).
 */
import type { AxisConfig } from './config.js';
import { STAGE_AXES, type StageAxis, type StagePose } from './stage.js';

export type ControllerVec = Partial<Record<StageAxis, number>>;

export class AxisMap {
  constructor(
    private readonly axes: Readonly<Record<StageAxis, AxisConfig>>,
    /** Controller units per µm on an axis (may change at run time, e.g. GRBL's $13). */
    private readonly unitsPerUm: (axis: StageAxis) => number,
  ) {}

  /** Absolute stage target → controller coordinates (only the given axes). */
  toController(p: Partial<StagePose>): ControllerVec {
    const out: ControllerVec = {};
    for (const a of STAGE_AXES) {
      const v = p[a];
      if (v === undefined) continue;
      const ax = this.axes[a];
      out[a] = (v - ax.originUm) * ax.direction * this.unitsPerUm(a);
    }
    return out;
  }

  /** Stage distance → controller distance. */
  deltaToController(d: Partial<StagePose>): ControllerVec {
    const out: ControllerVec = {};
    for (const a of STAGE_AXES) {
      const v = d[a];
      if (v !== undefined) out[a] = v * this.axes[a].direction * this.unitsPerUm(a);
    }
    return out;
  }

  /** Controller position [x, y, z] → stage pose. */
  toStage(raw: readonly number[]): StagePose {
    const p = { x: 0, y: 0, z: 0 };
    STAGE_AXES.forEach((a, i) => {
      const ax = this.axes[a];
      // Rounded to 1 pm: controllers report far coarser than that, and an origin far from zero must not leave float dust.
      p[a] = Math.round((ax.originUm + (ax.direction * raw[i]!) / this.unitsPerUm(a)) * 1e6) / 1e6;
    });
    return p;
  }
}
