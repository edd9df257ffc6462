/**
 * Feedback-loop benchmark on the digital twin, over realistic QC scenarios: survey + zoom against an exhaustive zoom
 * raster of the same area, through the real stage driver (GRBL over an in-process link to its firmware simulator),
 * the twin camera, the shipped survey and zoom models, and the event sink. Times are instrument time (the twin's
 * clock), so they do not depend on how busy this machine is — except inference, whose real duration counts.
 *
 * Scenarios (each over several seeds, densities spread log-evenly over its range):
 * - inclusions: a polished steel section rated for non-metallic inclusions in the manner of ASTM E45 / ISO 4967:
 *   160 mm² examined, inclusions only — globular ones (3–30 µm) and stringers (10–60 µm, aspect 3–10, along the
 *   rolling direction: 40 % of them) — 0.01–0.1 % of the area;
 * - polished-part: scratches, pits and cracks on a 10 × 10 mm polished part, 0.05–0.5 % of the area;
 * - dense: 2 % of the area on 2 × 2 mm, all four classes, where most zoom fields hold a defect;
 * - micrographs: a sample made of real labelled micrographs, scanned with a survey + zoom bundle pair trained for
 *   that material — reported as not run, with the reason, until such a pair ships.
 *
 * The raster baseline is measured on BENCH_RASTER_WINDOWS windows of BENCH_RASTER_FIELDS_PER_WINDOW consecutive
 * fields spread evenly over each sample's whole serpentine (src/scan/raster.ts), through the same devices; its mean
 * per-field time × the raster's field count, plus its focus map, estimates the whole raster.
 *
 * Env: BENCH_SCENARIOS (inclusions,polished-part,dense), BENCH_SEEDS (per scenario; default 2), BENCH_AREA_SCALE
 * (scales each sample's side; default 1), BENCH_RASTER_WINDOWS (4), BENCH_RASTER_FIELDS_PER_WINDOW (3).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { TwinLoop, type TwinSampleResult } from '../../src/demo/twin-loop.js';
import { openDetector } from '../../src/inference/factory.js';
import { scanDetector } from '../../src/appliance/scan-detector.js';
import { scanSinkFor } from '../../src/appliance/scan-sink.js';
import { SimClock } from '../../src/kernel/clock.js';
import { createLogger } from '../../src/kernel/logger.js';
import { MemoryEventSink } from '../../src/publish/index.js';
import type { TwinClass } from '../../src/sim/sample.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';

interface Scenario {
  name: string;
  sideMm: [number, number];
  density: [number, number];
  classWeights?: Partial<Record<TwinClass, number>>;
  /** Share of particles drawn as stringers along the rolling direction (src/sim/synthetic-sample.ts). */
  stringerShare?: number;
}

const SCENARIOS: Scenario[] = [
  // 160 mm² examined, as ASTM E45 method A asks of a specimen.
  {
    name: 'inclusions',
    sideMm: [Math.sqrt(160), Math.sqrt(160)],
    density: [0.0001, 0.001],
    classWeights: { scratch: 0, pit: 0, particle: 1, crack: 0 },
    stringerShare: 0.4,
  },
  { name: 'polished-part', sideMm: [10, 10], density: [0.0005, 0.005], classWeights: { scratch: 1, pit: 1, particle: 0, crack: 1 } },
  { name: 'dense', sideMm: [2, 2], density: [0.02, 0.02] },
];

const wanted = (process.env.BENCH_SCENARIOS ?? 'inclusions,polished-part,dense')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = wanted.filter((w) => w !== 'micrographs' && !SCENARIOS.some((s) => s.name === w));
if (unknown.length > 0)
  throw new Error(`BENCH_SCENARIOS: unknown scenario(s) ${unknown.join(', ')}; known: ${[...SCENARIOS.map((s) => s.name), 'micrographs'].join(', ')}`);
const seeds = Number(process.env.BENCH_SEEDS ?? 2);
const scale = Number(process.env.BENCH_AREA_SCALE ?? 1);
const windows = Number(process.env.BENCH_RASTER_WINDOWS ?? 4);
const fieldsPerWindow = Number(process.env.BENCH_RASTER_FIELDS_PER_WINDOW ?? 3);
for (const [name, v, ok] of [
  ['BENCH_SEEDS', seeds, Number.isInteger(seeds) && seeds >= 1],
  ['BENCH_AREA_SCALE', scale, scale > 0 && scale <= 4],
  ['BENCH_RASTER_WINDOWS', windows, Number.isInteger(windows) && windows >= 1],
  ['BENCH_RASTER_FIELDS_PER_WINDOW', fieldsPerWindow, Number.isInteger(fieldsPerWindow) && fieldsPerWindow >= 1],
] as const) {
  if (!ok) throw new Error(`${name} must be ${name === 'BENCH_AREA_SCALE' ? 'a number in (0, 4]' : 'a whole number ≥ 1'} but is ${v}`);
}

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
  raster: { windows, fieldsPerWindow },
});

const round = (v: number, d = 3): number => +v.toFixed(d);
const sum = (rs: TwinSampleResult[], f: (r: TwinSampleResult) => number): number => rs.reduce((a, r) => a + f(r), 0);

/** Figures over a set of scanned samples, pooled by counts (not by averaging shares). */
function figures(rs: TwinSampleResult[]): Record<string, number> {
  const truth = sum(rs, (r) => r.score.truthCount);
  const found = sum(rs, (r) => r.score.foundCount);
  const matched = sum(rs, (r) => r.score.matchedCount);
  const detected = sum(rs, (r) => r.score.detectedShare * r.score.truthCount);
  const tp = sum(rs, (r) => r.score.recall * r.score.truthCount);
  const smart = sum(rs, (r) => r.result.summary.time.totalMs);
  const raster = sum(rs, (r) => r.raster!.estimatedTotalMs);
  const infAll = sum(rs, (r) => r.result.summary.time.inferenceTotalMs);
  const infExposed = sum(rs, (r) => r.result.summary.time.inferenceMs);
  const onDefects = sum(rs, (r) => r.score.targetsOnDefects);
  return {
    timeRatio: round(raster > 0 ? smart / raster : 0),
    detectionRecall: round(truth ? detected / truth : 1),
    detectionPrecision: round(found ? matched / found : 1),
    classAccuracy: round(matched ? tp / matched : 1),
    recall: round(truth ? tp / truth : 1),
    precision: round(found ? tp / found : 1),
    hiddenInferenceShare: round(infAll > 0 ? 1 - infExposed / infAll : 1),
    landedShare: round(onDefects ? sum(rs, (r) => r.score.landedShare * r.score.targetsOnDefects) / onDefects : 1),
    truth,
    found,
    smartInstrumentS: round(smart / 1000, 1),
    rasterEstimatedInstrumentS: round(raster / 1000, 1),
  };
}

const scenarios: Record<string, Record<string, unknown>> = {};
const all: TwinSampleResult[] = [];
let k = 0;
for (const sc of SCENARIOS.filter((s) => wanted.includes(s.name))) {
  const rs: TwinSampleResult[] = [];
  const [w, h] = [sc.sideMm[0] * scale * 1000, sc.sideMm[1] * scale * 1000];
  for (let i = 0; i < seeds; i++) {
    const density = sc.density[0] * Math.pow(sc.density[1] / sc.density[0], seeds > 1 ? i / (seeds - 1) : 0);
    const seed = 1000 * (SCENARIOS.indexOf(sc) + 1) + 101 + i;
    const sample = new SyntheticSample({
      seed,
      id: `${sc.name}-${seed}`,
      widthUm: w,
      heightUm: h,
      defectDensity: density,
      ...(sc.classWeights ? { classWeights: sc.classWeights } : {}),
      ...(sc.stringerShare ? { stringerShare: sc.stringerShare } : {}),
    });
    process.stderr.write(`bench:loop ${sc.name} seed ${seed}: ${(w / 1000).toFixed(2)} × ${(h / 1000).toFixed(2)} mm at ${(density * 100).toFixed(3)} % …\n`);
    const r = await loop.scanSample({ sampleId: sample.id, lot: 'bench', sample }, `bench-${sc.name}-${seed}-${k++}`);
    rs.push(r);
    const t = r.result.summary.time;
    const row = {
      scenario: sc.name,
      sample: sample.id,
      densityPct: round(density * 100),
      truth: r.score.truthCount,
      targets: r.result.summary.targetsVisited,
      rasterFields: r.result.summary.rasterFields,
      ...figures([r]),
      missedBySurvey: r.score.missedBySurvey,
      raster: {
        fields: r.raster!.fields,
        measuredFields: r.raster!.measuredFields,
        perFieldS: round(r.raster!.perFieldMs / 1000),
        focusMapS: round(r.raster!.focusMapMs / 1000, 1),
      },
      split: {
        surveyS: round(t.surveyMs / 1000, 1),
        zoomS: round(t.zoomMs / 1000, 1),
        travelS: round(t.travelMs / 1000, 1),
        focusS: round(t.focusMs / 1000, 1),
        captureS: round(t.captureMs / 1000, 1),
        inferenceExposedS: round(t.inferenceMs / 1000, 1),
      },
      perClass: r.score.perClass,
      wallS: round(r.wallMs / 1000, 0),
    };
    console.log(JSON.stringify(row));
  }
  all.push(...rs);
  scenarios[sc.name] = {
    samples: rs.length,
    sampleAreaMm2: round((w * h) / 1e6, 2),
    densityPct: sc.density.map((d) => round(d * 100)),
    ...figures(rs),
    rasterFieldsMeasured: sum(rs, (r) => r.raster!.measuredFields),
    rasterFieldsTotal: sum(rs, (r) => r.raster!.fields),
    missedBySurvey: sum(rs, (r) => r.score.missedBySurvey),
    wallS: round(sum(rs, (r) => r.wallMs) / 1000, 0),
  };
}
if (wanted.includes('micrographs')) {
  // Reported, not silently dropped: the scenario needs what does not ship yet.
  scenarios.micrographs = {
    notRun: 'no survey + zoom bundle pair trained for a micrograph material ships yet (models/ has single-objective real-data bundles only)',
  };
}
await survey.close();
await zoom.close();

const pooled = figures(all);
console.log(
  JSON.stringify({
    scenarios,
    timeRatio: pooled.timeRatio,
    detectionRecall: pooled.detectionRecall,
    detectionPrecision: pooled.detectionPrecision,
    classAccuracy: pooled.classAccuracy,
    samples: all.length,
    areaScale: scale,
    rasterWindows: windows,
    rasterFieldsPerWindow: fieldsPerWindow,
    models: { survey: survey.info().name + '@' + survey.info().version, zoom: zoom.info().name + '@' + zoom.info().version },
  }),
);
