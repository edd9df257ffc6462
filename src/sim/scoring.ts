/**
 * Scoring a scan of the twin against its ground truth: which real defects were found, with the right class, and how
 * well the zoom targets landed. Used by the demo and the loop benchmark; production scans have no ground truth.
 */
import type { ConfirmedDefect } from '../scan/ports.js';
import type { TargetOutcome } from '../scan/zoom.js';
import type { GroundTruthDefect } from './sample.js';
import type { TwinWorld } from './world.js';

type Rect = [number, number, number, number];

export interface ClassScore {
  truth: number;
  found: number;
  truePositives: number;
  recall: number;
  precision: number;
}

export interface TwinScore {
  perClass: Record<string, ClassScore>;
  /** All classes: a found defect counts when it lies on a real one of the same class. */
  recall: number;
  precision: number;
  /** Found defects that lie on a real defect, whatever the class (precision of detection alone). */
  localisedShare: number;
  /** Real defects that a found defect lies on, whatever the class (recall of detection alone). */
  detectedShare: number;
  /** Of the found defects that lie on a real one, the share given the real one's class. */
  classAccuracy: number;
  /** Counts behind the shares: real defects, found defects, and found defects lying on a real one. */
  truthCount: number;
  foundCount: number;
  matchedCount: number;
  /** Zoom targets visited (not raster fields) that had a real defect under them, and the share of those whose fields held it (its centre, or a part of one larger than a field). */
  targetsOnDefects: number;
  landedShare: number;
  /** Ground truth that was never a zoom target (missed by the survey). */
  missedBySurvey: number;
}

/** Ground-truth defects inside the stage rectangle `outline`, with their boxes in stage µm. */
export function truthInStage(world: TwinWorld, outline: Rect): Array<GroundTruthDefect & { stageRect: Rect; stageXY: [number, number] }> {
  const ref = world.spec.objectives[0]!;
  const out: Array<GroundTruthDefect & { stageRect: Rect; stageXY: [number, number] }> = [];
  for (const d of world.sample.defects()) {
    const [b0, b1, b2, b3] = d.bboxUm;
    const xs: number[] = [];
    const ys: number[] = [];
    for (const [x, y] of [
      [b0, b1],
      [b2, b1],
      [b0, b3],
      [b2, b3],
    ] as const) {
      const [sx, sy] = world.sampleToStage(x, y, ref);
      xs.push(sx);
      ys.push(sy);
    }
    const stageXY = world.sampleToStage(d.xUm, d.yUm, ref);
    if (stageXY[0] < outline[0] || stageXY[0] > outline[2] || stageXY[1] < outline[1] || stageXY[1] > outline[3]) continue;
    out.push({ ...d, stageRect: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], stageXY });
  }
  return out;
}

function gap(a: Rect, b: Rect): number {
  const dx = Math.max(0, Math.max(a[0], b[0]) - Math.min(a[2], b[2]));
  const dy = Math.max(0, Math.max(a[1], b[1]) - Math.min(a[3], b[3]));
  return Math.hypot(dx, dy);
}

export function scoreScan(
  world: TwinWorld,
  outline: Rect,
  defects: ConfirmedDefect[],
  outcomes: TargetOutcome[],
  targets: Array<{ index: number; rect: Rect; raster?: boolean }>,
  zoomFieldUm: [number, number],
  classes: readonly string[],
  toleranceUm = 3,
): TwinScore {
  const truth = truthInStage(world, outline);
  // Greedy one-to-one matching, closest pairs first, boxes within the tolerance.
  const pairs: Array<{ f: number; g: number; d: number }> = [];
  defects.forEach((f, fi) => {
    truth.forEach((g, gi) => {
      if (gap(f.bboxUm, g.stageRect) > toleranceUm) return;
      pairs.push({ f: fi, g: gi, d: Math.hypot(f.stageXUm - g.stageXY[0], f.stageYUm - g.stageXY[1]) });
    });
  });
  pairs.sort((a, b) => a.d - b.d);
  const fUsed = new Map<number, number>();
  const gUsed = new Set<number>();
  for (const p of pairs) {
    if (fUsed.has(p.f) || gUsed.has(p.g)) continue;
    fUsed.set(p.f, p.g);
    gUsed.add(p.g);
  }
  const perClass: Record<string, ClassScore> = {};
  for (const c of classes) perClass[c] = { truth: 0, found: 0, truePositives: 0, recall: 0, precision: 0 };
  for (const g of truth) (perClass[g.className] ??= { truth: 0, found: 0, truePositives: 0, recall: 0, precision: 0 }).truth++;
  let tp = 0;
  defects.forEach((f, fi) => {
    const c = (perClass[f.className] ??= { truth: 0, found: 0, truePositives: 0, recall: 0, precision: 0 });
    c.found++;
    const gi = fUsed.get(fi);
    if (gi !== undefined && truth[gi]!.className === f.className) {
      c.truePositives++;
      tp++;
    }
  });
  for (const c of Object.values(perClass)) {
    c.recall = c.truth > 0 ? c.truePositives / c.truth : 1;
    c.precision = c.found > 0 ? c.truePositives / c.found : 1;
  }
  // Landing: targets over a real defect, and whether a field of theirs held the defect's centre.
  let onDefects = 0;
  let landed = 0;
  const targeted = new Set<number>();
  const byIndex = new Map(outcomes.map((o) => [o.index, o]));
  for (const t of targets) {
    const under = truth.map((g, gi) => ({ g, gi })).filter(({ g }) => gap(t.rect, g.stageRect) <= toleranceUm);
    if (under.length === 0) continue;
    for (const u of under) targeted.add(u.gi);
    // A raster field is where the raster grid puts it: it lands by construction, so it says nothing of aiming.
    if (t.raster) continue;
    const o = byIndex.get(t.index);
    if (!o || o.outcome === 'skipped') continue;
    onDefects++;
    const centres = o.fieldCentres ?? [];
    // A defect smaller than a field lands when its centre is in a field; a larger one when fields cover part of it.
    const inField = under.some(({ g }) =>
      centres.some(([cx, cy]) => {
        const f: Rect = [cx - zoomFieldUm[0] / 2, cy - zoomFieldUm[1] / 2, cx + zoomFieldUm[0] / 2, cy + zoomFieldUm[1] / 2];
        const big = g.stageRect[2] - g.stageRect[0] > zoomFieldUm[0] || g.stageRect[3] - g.stageRect[1] > zoomFieldUm[1];
        return big ? gap(f, g.stageRect) === 0 : g.stageXY[0] >= f[0] && g.stageXY[0] <= f[2] && g.stageXY[1] >= f[1] && g.stageXY[1] <= f[3];
      }),
    );
    if (inField) landed++;
  }
  return {
    perClass,
    recall: truth.length > 0 ? tp / truth.length : 1,
    precision: defects.length > 0 ? tp / defects.length : 1,
    localisedShare: defects.length > 0 ? fUsed.size / defects.length : 1,
    detectedShare: truth.length > 0 ? gUsed.size / truth.length : 1,
    classAccuracy: fUsed.size > 0 ? tp / fUsed.size : 1,
    truthCount: truth.length,
    foundCount: defects.length,
    matchedCount: fUsed.size,
    targetsOnDefects: onDefects,
    landedShare: onDefects > 0 ? landed / onDefects : 1,
    missedBySurvey: truth.length - targeted.size,
  };
}
