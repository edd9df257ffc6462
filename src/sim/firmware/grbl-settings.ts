/**
 * The simulated GRBL's `$` settings (https://github.com/gnea/grbl/blob/master/doc/markdown/settings.md), tied to the
 * stage physics: max rates and accelerations are the physics' own, so writing $110 or $120 really changes how the twin
 * moves.
 */
import { AXES, type StagePhysics, type Vec3 } from '../stage-physics.js';

export const SETTING_IDS = [
  0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32, 100, 101, 102, 110, 111, 112, 120, 121, 122, 130, 131, 132,
];

/** $ settings that take an integer (masks, booleans, times in µs / ms). */
const INTEGER = new Set([0, 1, 2, 3, 4, 5, 6, 10, 13, 20, 21, 22, 23, 26, 30, 31, 32]);

export class GrblSettings {
  private readonly values = new Map<number, number>();

  constructor(
    private readonly physics: StagePhysics,
    stepsPerMm: Vec3,
    opts: { statusMask: number; homingEnabled: boolean; softLimits: boolean; homingDirMask: number },
  ) {
    const defaults: Record<number, number> = {
      0: 10,
      1: 25,
      2: 0,
      3: 0,
      4: 0,
      5: 0,
      6: 0,
      10: opts.statusMask,
      11: 0.01,
      12: 0.002,
      13: 0,
      20: opts.softLimits ? 1 : 0,
      21: 0,
      22: opts.homingEnabled ? 1 : 0,
      23: opts.homingDirMask,
      24: 25,
      26: 250,
      27: 1,
      30: 1000,
      31: 0,
      32: 0,
    };
    for (const [k, v] of Object.entries(defaults)) this.values.set(Number(k), v);
    const s = physics.spec;
    AXES.forEach((a, i) => {
      this.values.set(100 + i, stepsPerMm[i]!);
      this.values.set(110 + i, (s[a].maxSpeedUmPerS * 60) / 1000);
      this.values.set(120 + i, s[a].accelUmPerS2 / 1000);
      this.values.set(130 + i, (s[a].maxUm - s[a].minUm) / 1000);
    });
    // Homing seeks at half the XY max rate.
    this.values.set(25, Math.min(this.values.get(110)!, this.values.get(111)!) / 2);
  }

  get(id: number): number {
    return this.values.get(id) ?? 0;
  }

  /** Writes `$id=value`; returns a GRBL error code or 0. */
  set(id: number, raw: string): number {
    if (!this.values.has(id)) return 3;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(raw)) return 2;
    const v = Number(raw);
    if (v < 0) return 4;
    if (INTEGER.has(id) && !Number.isInteger(v)) return 2;
    if (id >= 100 && id <= 122 && v === 0) return 4;
    this.values.set(id, v);
    const axis = AXES[id % 10];
    if (axis && id >= 110 && id <= 112) this.physics.spec[axis].maxSpeedUmPerS = (v * 1000) / 60;
    if (axis && id >= 120 && id <= 122) this.physics.spec[axis].accelUmPerS2 = v * 1000;
    return 0;
  }

  /** `$$` print-out lines. */
  lines(): string[] {
    return SETTING_IDS.map((id) => `$${id}=${INTEGER.has(id) ? String(this.get(id)) : this.get(id).toFixed(3)}`);
  }

  stepsPerMm(): Vec3 {
    return [this.get(100), this.get(101), this.get(102)];
  }
}
