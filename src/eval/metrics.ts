/**
 * Scores of a segmenting detector against labelled masks, accumulated image by image:
 * - pixel level: confusion matrix over classes (0 = background), per-class IoU and Dice;
 * - object level: objects are connected regions of one class (8-connectivity, in the truth as in the runtime's
 *   post-processing); truth objects and detections are matched one-to-one by mask IoU ≥ 0.5 (greedy, most confident
 *   detection first, as in PASCAL VOC), giving precision / recall / F1 per class, average precision at IoU 0.5 (all-point
 *   interpolation) and an object confusion matrix (class of truth × class of the matched detection, with "missed" and
 *   "spurious"). The same matching at IoU ≥ 0.3 is reported beside it (`*At03`): thin structures (a crack a few pixels
 *   wide) and small pits rarely reach 0.5 even when found, because one pixel of boundary is a large share of them.
 */

export interface ImageTruth {
  /** Class per pixel (0 = background), in the detector's class indices. */
  classMap: Uint8Array;
  /** Object per pixel (1-based, 0 = none). */
  instances: Int32Array;
  /** Class of each object (index = object id − 1). */
  objectClasses: number[];
}

export interface ImagePrediction {
  classMap: Uint8Array;
  /** Detection per pixel (1-based, 0 = none). */
  instances: Int32Array;
  /** Class and confidence of each detection (index = detection id − 1). */
  objects: Array<{ classId: number; confidence: number }>;
}

export const MATCH_IOU = 0.5;
/** The lenient matching threshold reported beside MATCH_IOU. */
export const MATCH_IOU_LENIENT = 0.3;
/** Connectivity of the regions that make objects (truth and detections). */
export const OBJECT_CONNECTIVITY = 8;

interface ApEntry {
  confidence: number;
  tp: boolean;
}

export interface ClassScores {
  class: string;
  iou: number | null;
  dice: number | null;
  truthObjects: number;
  detections: number;
  truePositives: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  ap50: number | null;
  /** Matched at IoU ≥ 0.3. */
  truePositivesAt03: number;
  precisionAt03: number | null;
  recallAt03: number | null;
  f1At03: number | null;
}

export interface Scores {
  /** How objects were formed and matched. */
  objectMatching: { connectivity: number; iou: number; lenientIou: number; rule: string };
  classes: string[];
  perClass: ClassScores[];
  meanIoU: number;
  meanDice: number;
  mAP50: number;
  objectPrecision: number;
  objectRecall: number;
  objectF1: number;
  objectPrecisionAt03: number;
  objectRecallAt03: number;
  objectF1At03: number;
  /** Share of truth objects touched by any detection of any class (a lenient, survey-style recall). */
  objectRecallAnyOverlap: number;
  /** Pixel counts: rows = truth class, columns = predicted class. */
  pixelConfusion: number[][];
  /** Objects: rows = truth class then "spurious"; columns = matched detection class then "missed". Index 0 unused. */
  objectConfusion: number[][];
}

export class MetricAccumulator {
  private readonly K: number;
  private readonly pixel: Float64Array;
  private readonly ap: ApEntry[][];
  private readonly truthCount: number[];
  private readonly detCount: number[];
  private readonly tpCount: number[];
  private readonly tpCount03: number[];
  private readonly objConf: number[][];
  private touched = 0;
  private truthTotal = 0;

  constructor(readonly classes: readonly string[]) {
    this.K = classes.length;
    this.pixel = new Float64Array(this.K * this.K);
    this.ap = Array.from({ length: this.K }, () => []);
    this.truthCount = new Array<number>(this.K).fill(0);
    this.detCount = new Array<number>(this.K).fill(0);
    this.tpCount = new Array<number>(this.K).fill(0);
    this.tpCount03 = new Array<number>(this.K).fill(0);
    this.objConf = Array.from({ length: this.K + 1 }, () => new Array<number>(this.K + 1).fill(0));
  }

  add(truth: ImageTruth, pred: ImagePrediction): void {
    const K = this.K;
    const n = truth.classMap.length;
    if (pred.classMap.length !== n) throw new RangeError(`prediction covers ${pred.classMap.length} pixels but the truth ${n}`);
    for (let i = 0; i < n; i++) this.pixel[truth.classMap[i]! * K + pred.classMap[i]!]++;

    // Overlaps between truth objects and detections, from one pass over the instance maps.
    const nt = truth.objectClasses.length;
    const np = pred.objects.length;
    const tArea = new Float64Array(nt + 1);
    const pArea = new Float64Array(np + 1);
    const inter = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const t = truth.instances[i]!;
      const p = pred.instances[i]!;
      if (t) tArea[t]++;
      if (p) pArea[p]++;
      if (t && p) {
        const key = t * (np + 1) + p;
        inter.set(key, (inter.get(key) ?? 0) + 1);
      }
    }
    const overlaps = new Map<number, Array<{ t: number; iou: number }>>();
    const touched = new Set<number>();
    for (const [key, count] of inter) {
      const t = Math.floor(key / (np + 1));
      const p = key % (np + 1);
      touched.add(t);
      const iou = count / (tArea[t]! + pArea[p]! - count);
      let list = overlaps.get(p);
      if (!list) overlaps.set(p, (list = []));
      list.push({ t, iou });
    }
    this.touched += touched.size;
    this.truthTotal += nt;
    for (const c of truth.objectClasses) this.truthCount[c]!++;

    // Greedy one-to-one matching, most confident detection first; a detection matches a truth object of its own class.
    const order = pred.objects.map((o, k) => ({ ...o, id: k + 1 })).sort((a, b) => b.confidence - a.confidence || a.id - b.id);
    const strict = greedyMatch(order, overlaps, truth.objectClasses, MATCH_IOU);
    const lenient = greedyMatch(order, overlaps, truth.objectClasses, MATCH_IOU_LENIENT);
    order.forEach((d, k) => {
      this.detCount[d.classId]!++;
      if (strict[k]) this.tpCount[d.classId]!++;
      if (lenient[k]) this.tpCount03[d.classId]!++;
      this.ap[d.classId]!.push({ confidence: d.confidence, tp: strict[k]! });
    });

    // Object confusion: any-class matching at IoU ≥ 0.5 (best IoU first), so a right object with a wrong class shows.
    const pairs: Array<{ t: number; p: number; iou: number }> = [];
    for (const [p, list] of overlaps) for (const o of list) if (o.iou >= MATCH_IOU) pairs.push({ t: o.t, p, iou: o.iou });
    pairs.sort((a, b) => b.iou - a.iou || a.t - b.t || a.p - b.p);
    const tUsed = new Uint8Array(nt + 1);
    const pUsed = new Uint8Array(np + 1);
    for (const x of pairs) {
      if (tUsed[x.t] || pUsed[x.p]) continue;
      tUsed[x.t] = 1;
      pUsed[x.p] = 1;
      this.objConf[truth.objectClasses[x.t - 1]!]![pred.objects[x.p - 1]!.classId]!++;
    }
    for (let t = 1; t <= nt; t++) if (!tUsed[t]) this.objConf[truth.objectClasses[t - 1]!]![K]!++;
    for (let p = 1; p <= np; p++) if (!pUsed[p]) this.objConf[K]![pred.objects[p - 1]!.classId]!++;
  }

  scores(): Scores {
    const K = this.K;
    const perClass: ClassScores[] = [];
    for (let c = 1; c < K; c++) {
      const tp = this.pixel[c * K + c]!;
      let fp = 0;
      let fn = 0;
      for (let j = 0; j < K; j++) {
        if (j === c) continue;
        fp += this.pixel[j * K + c]!;
        fn += this.pixel[c * K + j]!;
      }
      const denom = tp + fp + fn;
      const objTp = this.tpCount[c]!;
      const precision = this.detCount[c]! > 0 ? objTp / this.detCount[c]! : null;
      const recall = this.truthCount[c]! > 0 ? objTp / this.truthCount[c]! : null;
      const tp03 = this.tpCount03[c]!;
      const precision03 = this.detCount[c]! > 0 ? tp03 / this.detCount[c]! : null;
      const recall03 = this.truthCount[c]! > 0 ? tp03 / this.truthCount[c]! : null;
      perClass.push({
        class: this.classes[c]!,
        iou: denom > 0 ? tp / denom : null,
        dice: denom > 0 ? (2 * tp) / (2 * tp + fp + fn) : null,
        truthObjects: this.truthCount[c]!,
        detections: this.detCount[c]!,
        truePositives: objTp,
        precision,
        recall,
        f1: f1Of(precision, recall),
        ap50: this.truthCount[c]! > 0 ? averagePrecision(this.ap[c]!, this.truthCount[c]!) : null,
        truePositivesAt03: tp03,
        precisionAt03: precision03,
        recallAt03: recall03,
        f1At03: f1Of(precision03, recall03),
      });
    }
    const mean = (xs: Array<number | null>): number => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
    };
    const tp = this.tpCount.reduce((a, b) => a + b, 0);
    const dets = this.detCount.reduce((a, b) => a + b, 0);
    const truths = this.truthCount.reduce((a, b) => a + b, 0);
    const P = dets > 0 ? tp / dets : 0;
    const R = truths > 0 ? tp / truths : 0;
    const tp03 = this.tpCount03.reduce((a, b) => a + b, 0);
    const P03 = dets > 0 ? tp03 / dets : 0;
    const R03 = truths > 0 ? tp03 / truths : 0;
    const pixelConfusion: number[][] = [];
    for (let i = 0; i < K; i++) pixelConfusion.push(Array.from(this.pixel.subarray(i * K, (i + 1) * K)));
    return {
      objectMatching: {
        connectivity: OBJECT_CONNECTIVITY,
        iou: MATCH_IOU,
        lenientIou: MATCH_IOU_LENIENT,
        rule: 'one-to-one, most confident detection first, same class, mask IoU at or above the threshold',
      },
      classes: [...this.classes],
      perClass,
      meanIoU: mean(perClass.map((c) => c.iou)),
      meanDice: mean(perClass.map((c) => c.dice)),
      mAP50: mean(perClass.map((c) => c.ap50)),
      objectPrecision: P,
      objectRecall: R,
      objectF1: f1Of(P, R)!,
      objectPrecisionAt03: P03,
      objectRecallAt03: R03,
      objectF1At03: f1Of(P03, R03)!,
      objectRecallAnyOverlap: this.truthTotal > 0 ? this.touched / this.truthTotal : 0,
      pixelConfusion,
      objectConfusion: this.objConf.map((r) => [...r]),
    };
  }
}

function f1Of(p: number | null, r: number | null): number | null {
  if (p === null || r === null) return null;
  return p + r > 0 ? (2 * p * r) / (p + r) : 0;
}

/**
 * One-to-one matching at an IoU threshold: detections in the given order (most confident first) each take the
 * unmatched truth object of their own class they overlap most, if that IoU reaches the threshold. Returns, per
 * detection in that order, whether it matched.
 */
export function greedyMatch(
  order: ReadonlyArray<{ id: number; classId: number }>,
  overlaps: ReadonlyMap<number, ReadonlyArray<{ t: number; iou: number }>>,
  truthClasses: readonly number[],
  threshold: number,
): boolean[] {
  const taken = new Uint8Array(truthClasses.length + 1);
  return order.map((d) => {
    let best = 0;
    let bestIou = threshold;
    for (const o of overlaps.get(d.id) ?? []) {
      if (taken[o.t] || truthClasses[o.t - 1] !== d.classId) continue;
      if (o.iou >= bestIou) {
        bestIou = o.iou;
        best = o.t;
      }
    }
    if (best) taken[best] = 1;
    return best !== 0;
  });
}

/** Area under the precision–recall curve with precision made monotone (all-point interpolation, VOC 2010+). */
export function averagePrecision(entries: ApEntry[], truthCount: number): number {
  if (truthCount === 0) return 0;
  const sorted = [...entries].sort((a, b) => b.confidence - a.confidence);
  const rec: number[] = [0];
  const prec: number[] = [1];
  let tp = 0;
  let fp = 0;
  for (const e of sorted) {
    if (e.tp) tp++;
    else fp++;
    rec.push(tp / truthCount);
    prec.push(tp / (tp + fp));
  }
  for (let i = prec.length - 2; i >= 0; i--) prec[i] = Math.max(prec[i]!, prec[i + 1]!);
  let ap = 0;
  for (let i = 1; i < rec.length; i++) ap += (rec[i]! - rec[i - 1]!) * prec[i]!;
  return ap;
}
