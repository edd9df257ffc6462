import { describe, expect, it } from 'vitest';
import { MetricAccumulator, averagePrecision, type ImagePrediction, type ImageTruth } from '../../src/eval/metrics.js';

/** A 10 × 1 strip: classes and instance ids written as strings ('.' = 0). */
function strip(classes: string, ids: string): { classMap: Uint8Array; instances: Int32Array } {
  const c = Uint8Array.from([...classes].map((x) => (x === '.' ? 0 : Number(x))));
  const i = Int32Array.from([...ids].map((x) => (x === '.' ? 0 : Number(x))));
  return { classMap: c, instances: i };
}

describe('pixel metrics', () => {
  it('computes IoU, Dice and the confusion matrix per class', () => {
    const acc = new MetricAccumulator(['bg', 'a', 'b']);
    const truth: ImageTruth = { ...strip('1111..22..', '1111..22..'), objectClasses: [1, 2] };
    const pred: ImagePrediction = {
      ...strip('.111..2222', '.111..2222'),
      objects: [
        { classId: 1, confidence: 0.9 },
        { classId: 2, confidence: 0.8 },
      ],
    };
    // Instance ids in the strip above: class a pixels are object 1, class b pixels object 2.
    truth.instances = Int32Array.from([1, 1, 1, 1, 0, 0, 2, 2, 0, 0]);
    pred.instances = Int32Array.from([0, 1, 1, 1, 0, 0, 2, 2, 2, 2]);
    acc.add(truth, pred);
    const s = acc.scores();
    expect(s.perClass[0]).toMatchObject({ class: 'a', iou: 0.75, dice: 6 / 7 });
    expect(s.perClass[1]).toMatchObject({ class: 'b', iou: 0.5, dice: 4 / 6 });
    expect(s.meanIoU).toBeCloseTo(0.625, 10);
    expect(s.pixelConfusion).toEqual([
      [2, 0, 2],
      [1, 3, 0],
      [0, 0, 2],
    ]);
  });
});

describe('object metrics', () => {
  it('matches one-to-one at IoU ≥ 0.5, most confident first, and scores precision, recall, F1 and AP', () => {
    const acc = new MetricAccumulator(['bg', 'a']);
    // Truth: objects 1 (px 0-3) and 2 (px 6-7). Detections: 1 covers px 0-2 (IoU 0.75, conf 0.6), 2 covers px 9
    // (no overlap, conf 0.9), 3 covers px 3 (IoU 0.25 with truth 1, conf 0.7).
    acc.add(
      { classMap: Uint8Array.from([1, 1, 1, 1, 0, 0, 1, 1, 0, 0]), instances: Int32Array.from([1, 1, 1, 1, 0, 0, 2, 2, 0, 0]), objectClasses: [1, 1] },
      {
        classMap: Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0, 0, 1]),
        instances: Int32Array.from([1, 1, 1, 3, 0, 0, 0, 0, 0, 2]),
        objects: [
          { classId: 1, confidence: 0.6 },
          { classId: 1, confidence: 0.9 },
          { classId: 1, confidence: 0.7 },
        ],
      },
    );
    const s = acc.scores();
    const a = s.perClass[0]!;
    expect(a).toMatchObject({ truthObjects: 2, detections: 3, truePositives: 1 });
    expect(a.precision).toBeCloseTo(1 / 3, 10);
    expect(a.recall).toBeCloseTo(0.5, 10);
    expect(a.f1).toBeCloseTo(0.4, 10);
    // Ranked: 0.9 FP, 0.7 FP, 0.6 TP → precision at recall 0.5 is 1/3: AP = 0.5 × 1/3.
    expect(a.ap50).toBeCloseTo(1 / 6, 10);
    expect(s.mAP50).toBeCloseTo(1 / 6, 10);
    expect(s.objectRecallAnyOverlap).toBeCloseTo(0.5, 10);
    // Object confusion: rows truth a, spurious; columns a, missed.
    expect(s.objectConfusion[1]).toEqual([0, 1, 1]);
    expect(s.objectConfusion[2]).toEqual([0, 2, 0]);
  });

  it('does not match a detection of the wrong class, but shows it in the object confusion', () => {
    const acc = new MetricAccumulator(['bg', 'a', 'b']);
    acc.add(
      { classMap: Uint8Array.from([1, 1, 0]), instances: Int32Array.from([1, 1, 0]), objectClasses: [1] },
      { classMap: Uint8Array.from([2, 2, 0]), instances: Int32Array.from([1, 1, 0]), objects: [{ classId: 2, confidence: 0.9 }] },
    );
    const s = acc.scores();
    expect(s.perClass[0]).toMatchObject({ truePositives: 0, recall: 0, precision: null, ap50: 0 });
    expect(s.perClass[1]).toMatchObject({ truePositives: 0, precision: 0, recall: null, ap50: null });
    expect(s.objectConfusion[1]).toEqual([0, 0, 1, 0]);
  });

  it('scores a perfect prediction as 1 everywhere', () => {
    const acc = new MetricAccumulator(['bg', 'a', 'b']);
    const t = { classMap: Uint8Array.from([1, 1, 0, 2, 2, 0]), instances: Int32Array.from([1, 1, 0, 2, 2, 0]), objectClasses: [1, 2] };
    acc.add(t, {
      classMap: t.classMap,
      instances: t.instances,
      objects: [
        { classId: 1, confidence: 0.5 },
        { classId: 2, confidence: 0.5 },
      ],
    });
    const s = acc.scores();
    expect([s.meanIoU, s.meanDice, s.mAP50, s.objectPrecision, s.objectRecall, s.objectF1]).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe('lenient object matching (IoU ≥ 0.3)', () => {
  it('matches a detection that overlaps a thin object by IoU 0.4 at 0.3 but not at 0.5, and states how objects match', () => {
    const acc = new MetricAccumulator(['bg', 'a']);
    // Truth: one object on px 0-4; the detection covers px 3-5: intersection 2, union 6 → IoU 1/3.
    acc.add(
      { classMap: Uint8Array.from([1, 1, 1, 1, 1, 0, 0, 0]), instances: Int32Array.from([1, 1, 1, 1, 1, 0, 0, 0]), objectClasses: [1] },
      { classMap: Uint8Array.from([0, 0, 0, 1, 1, 1, 0, 0]), instances: Int32Array.from([0, 0, 0, 1, 1, 1, 0, 0]), objects: [{ classId: 1, confidence: 0.8 }] },
    );
    const s = acc.scores();
    expect(s.objectMatching).toMatchObject({ connectivity: 8, iou: 0.5, lenientIou: 0.3 });
    expect(s.perClass[0]).toMatchObject({ truePositives: 0, truePositivesAt03: 1, recall: 0, recallAt03: 1, precisionAt03: 1, f1At03: 1 });
    expect([s.objectF1, s.objectF1At03, s.objectRecallAt03, s.objectPrecisionAt03]).toEqual([0, 1, 1, 1]);
  });
});

describe('average precision', () => {
  it('integrates the monotone precision envelope over recall', () => {
    // TP, FP, TP with 3 truths: recall 1/3 @ P 1, 2/3 @ P 2/3 → AP = 1/3 · 1 + 1/3 · 2/3.
    const ap = averagePrecision(
      [
        { confidence: 0.9, tp: true },
        { confidence: 0.8, tp: false },
        { confidence: 0.7, tp: true },
      ],
      3,
    );
    expect(ap).toBeCloseTo(1 / 3 + 2 / 9, 10);
    expect(averagePrecision([], 2)).toBe(0);
  });
});
