/**
 * Feedback-loop benchmark on the digital twin: survey + zoom against an exhaustive zoom raster of the same area, over
 * samples of different seeds and defect densities (0.1 %–2 % of area), through the real stage driver (GRBL over an
 * in-process link to its firmware simulator), the twin camera, the shipped survey and zoom models, and the event
 * sink. Times are instrument time (the twin's clock), so they do not depend on how busy this machine is — except
 * inference, whose real duration counts.
 *
 * The raster is measured on its first BENCH_RASTER_FIELDS fields of each sample (consecutive, so the moves are the
 * raster's own) and scaled to the whole raster: measuring all of it would take hours of rendering on 2 cores.
 *
 * Env: BENCH_SAMPLES (10), BENCH_SIZE_MM (3), BENCH_RASTER_FIELDS (12).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { TwinLoop, type TwinSampleResult } from '../../src/demo/twin-loop.js';
import { openDetector } from '../../src/inference/factory.js';
import { scanDetector } from '../../src/appliance/scan-detector.js';
import { SimClock } from '../../src/kernel/clock.js';
import { createLogger } from '../../src/kernel/logger.js';
import { MemoryEventSink } from '../../src/publish/index.js';
import { scanSinkFor } from '../../src/appliance/scan-sink.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';

const samples = Number(process.env.BENCH_SAMPLES ?? 10);
const sizeMm = Number(process.env.BENCH_SIZE_MM ?? 3);
const rasterFields = Number(process.env.BENCH_RASTER_FIELDS ?? 12);
const cfg = parseConfig({});
const logger = createLogger({ level: 'warn', destination: process.stderr });
const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
const dir = mkdtempSync(join(tmpdir(), 'smartscope-bench-loop-'));
const sink = new MemoryEventSink(cfg.device, clock);
const inference = cfg.inference;
const survey = await openDetector(inference, 'survey', logger);
const zoom = await openDetector(inference, 'zoom', logger);
const loop = new TwinLoop({
  twin: cfg.twin,
  clock,
  stateDir: dir,
  logger,
  protocol: 'grbl',
  transport: 'stream',
  detectors: { survey: scanDetector(survey, { probabilityMaxSide: 256 }), zoom: scanDetector(zoom, { probabilityMaxSide: 256 }) },
  sink: scanSinkFor(sink),
  raster: { maxFields: rasterFields },
});

const rows: Array<Record<string, unknown>> = [];
const results: TwinSampleResult[] = [];
for (let k = 0; k < samples; k++) {
  const density = 0.001 * Math.pow(20, samples > 1 ? k / (samples - 1) : 0);
  const seed = 101 + k;
  const sample = new SyntheticSample({ seed, id: `bench-${seed}`, widthUm: sizeMm * 1000, heightUm: sizeMm * 1000, defectDensity: density });
  const r = await loop.scanSample({ sampleId: sample.id, lot: 'bench', sample }, `bench-${seed}-${k}`);
  results.push(r);
  const t = r.result.summary.time;
  const raster = r.raster!;
  const row = {
    sample: sample.id,
    densityPct: +(density * 100).toFixed(3),
    truth: Object.values(r.score.perClass).reduce((a, c) => a + c.truth, 0),
    targets: r.result.summary.targetsVisited,
    smartS: +(t.totalMs / 1000).toFixed(1),
    rasterFields: raster.fields,
    rasterPerFieldS: +(raster.perFieldMs / 1000).toFixed(3),
    rasterEstimatedS: +(raster.estimatedTotalMs / 1000).toFixed(1),
    timeRatio: +(t.totalMs / raster.estimatedTotalMs).toFixed(3),
    recall: +r.score.recall.toFixed(3),
    precision: +r.score.precision.toFixed(3),
    detectedShare: +r.score.detectedShare.toFixed(3),
    localisedShare: +r.score.localisedShare.toFixed(3),
    missedBySurvey: r.score.missedBySurvey,
    hiddenInferenceShare: +t.hiddenInferenceShare.toFixed(3),
    landedShare: +r.score.landedShare.toFixed(3),
    split: { surveyS: +(t.surveyMs / 1000).toFixed(1), zoomS: +(t.zoomMs / 1000).toFixed(1), travelS: +(t.travelMs / 1000).toFixed(1), focusS: +(t.focusMs / 1000).toFixed(1), captureS: +(t.captureMs / 1000).toFixed(1), inferenceExposedS: +(t.inferenceMs / 1000).toFixed(1) },
    wallS: +(r.wallMs / 1000).toFixed(0),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
await survey.close();
await zoom.close();

// Pooled over all samples.
const perClass: Record<string, { truth: number; found: number; truePositives: number; recall: number; precision: number }> = {};
for (const r of results) {
  for (const [c, v] of Object.entries(r.score.perClass)) {
    const p = (perClass[c] ??= { truth: 0, found: 0, truePositives: 0, recall: 0, precision: 0 });
    p.truth += v.truth;
    p.found += v.found;
    p.truePositives += v.truePositives;
  }
}
for (const p of Object.values(perClass)) {
  p.recall = +(p.truth ? p.truePositives / p.truth : 1).toFixed(3);
  p.precision = +(p.found ? p.truePositives / p.found : 1).toFixed(3);
}
const sum = (f: (r: TwinSampleResult) => number): number => results.reduce((a, r) => a + f(r), 0);
const tp = Object.values(perClass).reduce((a, p) => a + p.truePositives, 0);
const truth = Object.values(perClass).reduce((a, p) => a + p.truth, 0);
const found = Object.values(perClass).reduce((a, p) => a + p.found, 0);
const smart = sum((r) => r.result.summary.time.totalMs);
const raster = sum((r) => r.raster!.estimatedTotalMs);
const infAll = sum((r) => r.result.summary.time.inferenceTotalMs);
const infExposed = sum((r) => r.result.summary.time.inferenceMs);
const onDefects = sum((r) => r.score.targetsOnDefects);
const landed = sum((r) => r.score.landedShare * r.score.targetsOnDefects);
const ratios = rows.map((r) => r.timeRatio as number).sort((a, b) => a - b);
const result = {
  samples: results.length,
  sampleSizeMm: sizeMm,
  densityPct: [+(0.1).toFixed(1), 2],
  timeRatio: +(smart / raster).toFixed(3),
  timeRatioMedian: ratios[Math.floor(ratios.length / 2)],
  smartInstrumentS: +(smart / 1000).toFixed(1),
  rasterEstimatedInstrumentS: +(raster / 1000).toFixed(1),
  rasterFieldsMeasuredPerSample: rasterFields,
  recall: +(truth ? tp / truth : 1).toFixed(3),
  precision: +(found ? tp / found : 1).toFixed(3),
  // The same without the class: how many real defects were found at all, and how many reports lie on one.
  detectionRecall: +(truth ? sum((r) => r.score.detectedShare * Object.values(r.score.perClass).reduce((a, p) => a + p.truth, 0)) / truth : 1).toFixed(3),
  detectionPrecision: +(found ? sum((r) => r.score.localisedShare * Object.values(r.score.perClass).reduce((a, p) => a + p.found, 0)) / found : 1).toFixed(3),
  missedBySurvey: sum((r) => r.score.missedBySurvey),
  hiddenInferenceShare: +(infAll > 0 ? 1 - infExposed / infAll : 1).toFixed(3),
  landedShare: +(onDefects ? landed / onDefects : 1).toFixed(3),
  perClass,
  models: { survey: survey.info().name + '@' + survey.info().version, zoom: zoom.info().name + '@' + zoom.info().version },
};
console.log(JSON.stringify(result));
