/** The result of one sample's scan: what was found, whether the sample passes its recipe, and where time went. */
import type { Recipe } from './recipe.js';

export interface TimeSplit {
  /** Instrument time of the whole scan (ms). */
  totalMs: number;
  /** Phases. */
  surveyMs: number;
  zoomMs: number;
  /** Activities (they add up to about totalMs; inference here is only the part not hidden behind motion). */
  travelMs: number;
  focusMs: number;
  captureMs: number;
  inferenceMs: number;
  otherMs: number;
  /** All inference time, hidden or not, and the share hidden behind stage motion and capture. */
  inferenceTotalMs: number;
  hiddenInferenceShare: number;
}

export interface ScanSummary {
  scanId: string;
  sampleId: string;
  lot: string;
  recipeId: string;
  recipeVersion: string;
  calibrationVersion: string;
  models: { survey: string; zoom: string };
  state: 'finished' | 'aborted' | 'failed';
  inspectedAreaCm2: number;
  surveyFields: number;
  candidates: number;
  targetsVisited: number;
  targetsSkipped: number;
  confirmed: number;
  rejected: number;
  countsByClass: Record<string, number>;
  densityPerCm2: Record<string, number>;
  largestUm: Record<string, number>;
  /**
   * The verdict against the recipe's acceptance criteria: `not-judged` when the recipe states none (a count of
   * defects is then all the scan says), `fail` also when the sample was not fully inspected.
   */
  verdict: 'pass' | 'fail' | 'not-judged';
  /** verdict === 'pass'. */
  pass: boolean;
  reasons: string[];
  /** Zoom fields imaged as a raster of busy regions (every defect in them reported), beside the targets visited. */
  rasterFields: number;
  /** Defects found below the recipe's acceptance.minConfidence: reported, but not counted against the criteria. */
  belowConfidence: number;
  time: TimeSplit;
  reportImage?: string;
}

export function judge(
  recipe: Recipe,
  defects: Array<{ className: string; sizeUm: number; confidence: number }>,
  areaCm2: number,
): {
  countsByClass: Record<string, number>;
  densityPerCm2: Record<string, number>;
  largestUm: Record<string, number>;
  judged: boolean;
  pass: boolean;
  reasons: string[];
  belowConfidence: number;
} {
  const counted = defects.filter((d) => d.confidence >= recipe.acceptance.minConfidence);
  const countsByClass: Record<string, number> = {};
  const largestUm: Record<string, number> = {};
  for (const c of recipe.classes) {
    countsByClass[c] = 0;
    largestUm[c] = 0;
  }
  for (const d of counted) {
    countsByClass[d.className] = (countsByClass[d.className] ?? 0) + 1;
    largestUm[d.className] = Math.max(largestUm[d.className] ?? 0, d.sizeUm);
  }
  const total = counted.length;
  const densityPerCm2: Record<string, number> = {};
  for (const [c, n] of Object.entries(countsByClass)) densityPerCm2[c] = areaCm2 > 0 ? n / areaCm2 : 0;
  densityPerCm2.total = areaCm2 > 0 ? total / areaCm2 : 0;
  const reasons: string[] = [];
  for (const [c, max] of Object.entries(recipe.acceptance.maxDefectsPerCm2)) {
    const d = densityPerCm2[c] ?? 0;
    if (d > max) reasons.push(`${c}: ${d.toFixed(2)} defects/cm² exceeds ${max}/cm²`);
  }
  const largestAll = Math.max(0, ...Object.values(largestUm));
  for (const [c, max] of Object.entries(recipe.acceptance.maxDefectSizeUm)) {
    const s = c === 'total' ? largestAll : (largestUm[c] ?? 0);
    if (s > max) reasons.push(`${c}: largest defect ${s.toFixed(1)} µm exceeds ${max} µm`);
  }
  const judged = Object.keys(recipe.acceptance.maxDefectsPerCm2).length + Object.keys(recipe.acceptance.maxDefectSizeUm).length > 0;
  return { countsByClass, densityPerCm2, largestUm, judged, pass: judged && reasons.length === 0, reasons, belowConfidence: defects.length - counted.length };
}
