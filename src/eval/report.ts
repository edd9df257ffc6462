/** Terminal tables for evaluation reports, and the compact summary recorded in a bundle's manifest. */
import type { MetricSummary } from '../inference/manifest.js';
import type { EvalReport } from './evaluate.js';

const f3 = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toFixed(3));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function formatReport(r: EvalReport): string {
  const s = r.scores;
  const out: string[] = [];
  out.push(
    `${r.detector.name} ${r.detector.version} (${r.detector.kind}, ${r.detector.provider}) on ${r.dataset.dir}: ${r.dataset.images} images, groups ${r.dataset.groups.join(', ')}`,
  );
  const m = s.objectMatching;
  out.push(
    `objects: connected regions of one class (${m.connectivity}-connectivity), matched ${m.rule}: at IoU ≥ ${m.iou} (precision, recall, F1, AP) and at IoU ≥ ${m.lenientIou} (P / R / F1 @${m.lenientIou})`,
  );
  const rows = [
    ['class', 'IoU', 'Dice', 'truth', 'found', 'precision', 'recall', 'F1', 'AP@0.5', `P@${m.lenientIou}`, `R@${m.lenientIou}`, `F1@${m.lenientIou}`],
  ];
  for (const c of s.perClass) {
    rows.push([
      c.class,
      f3(c.iou),
      f3(c.dice),
      String(c.truthObjects),
      String(c.detections),
      f3(c.precision),
      f3(c.recall),
      f3(c.f1),
      f3(c.ap50),
      f3(c.precisionAt03),
      f3(c.recallAt03),
      f3(c.f1At03),
    ]);
  }
  rows.push([
    'mean / all',
    f3(s.meanIoU),
    f3(s.meanDice),
    '',
    '',
    f3(s.objectPrecision),
    f3(s.objectRecall),
    f3(s.objectF1),
    f3(s.mAP50),
    f3(s.objectPrecisionAt03),
    f3(s.objectRecallAt03),
    f3(s.objectF1At03),
  ]);
  out.push(table(rows));
  out.push(`objects touched by any detection: ${f3(s.objectRecallAnyOverlap)}`);
  const names = s.classes;
  const conf = [['truth \\ predicted (px)', ...names]];
  s.pixelConfusion.forEach((row, i) => conf.push([names[i]!, ...row.map((v) => String(v))]));
  out.push(table(conf));
  const oc = [['truth \\ matched (objects)', ...names.slice(1), 'missed']];
  for (let i = 1; i < names.length; i++) oc.push([names[i]!, ...s.objectConfusion[i]!.slice(1).map(String)]);
  oc.push(['spurious', ...s.objectConfusion[names.length]!.slice(1, names.length).map(String), '']);
  out.push(table(oc));
  out.push(
    `latency: ${r.latency.msPerTile.toFixed(1)} ms per tile (${r.latency.inferenceMsPerTile.toFixed(1)} ms in the network), ${r.latency.tiles} tiles, ${r.latency.msPerImage.toFixed(0)} ms per image`,
  );
  return out.join('\n');
}

export function formatComparison(model: EvalReport, baseline: EvalReport): string {
  const rows = [['', 'mean IoU', 'mean Dice', 'mAP@0.5', 'obj P', 'obj R', 'obj F1', 'obj F1@0.3', 'ms/tile']];
  for (const r of [model, baseline]) {
    const s = r.scores;
    rows.push([
      r.detector.name,
      f3(s.meanIoU),
      f3(s.meanDice),
      f3(s.mAP50),
      f3(s.objectPrecision),
      f3(s.objectRecall),
      f3(s.objectF1),
      f3(s.objectF1At03),
      r.latency.msPerTile.toFixed(1),
    ]);
  }
  return table(rows);
}

const r4 = (v: number | null): number | null => (v === null ? null : Math.round(v * 10_000) / 10_000);

export function summarise(r: EvalReport): MetricSummary {
  const s = r.scores;
  return {
    detector: `${r.detector.name} ${r.detector.version}`,
    meanIoU: r4(s.meanIoU)!,
    meanDice: r4(s.meanDice)!,
    mAP50: r4(s.mAP50)!,
    objectPrecision: r4(s.objectPrecision)!,
    objectRecall: r4(s.objectRecall)!,
    objectF1: r4(s.objectF1)!,
    objectPrecisionAt03: r4(s.objectPrecisionAt03)!,
    objectRecallAt03: r4(s.objectRecallAt03)!,
    objectF1At03: r4(s.objectF1At03)!,
    msPerTile: Math.round(r.latency.msPerTile * 100) / 100,
    perClass: s.perClass.map((c) => ({
      class: c.class,
      iou: r4(c.iou),
      dice: r4(c.dice),
      precision: r4(c.precision),
      recall: r4(c.recall),
      f1: r4(c.f1),
      ap50: r4(c.ap50),
      recallAt03: r4(c.recallAt03),
      f1At03: r4(c.f1At03),
    })),
  };
}
