/**
 * Twin rendering benchmark: median time to render one 2048 × 2048 16-bit field at the survey and the zoom
 * objective (texture, defects, diffraction + defocus blur, illumination, Poisson-Gaussian noise), against a copy of
 * the same frame measured in the same run; plus the time to generate a 20 × 20 mm sample at 5 % defect density.
 * Prints one JSON object as its last line.
 */
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { renderFrame } from '../../src/sim/optics.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const spec = defaultWorldSpec();
const sensor = { ...spec.sensor, widthPx: 2048, heightPx: 2048, bitDepth: 16 as const };
const sample = new SyntheticSample({ seed: 1, widthUm: 20_000, heightUm: 20_000, defectDensity: 0.01 });
const out = new Uint16Array(2048 * 2048);
const copy = new Uint16Array(2048 * 2048);
const scratch = {};

const perObjective: Record<string, { renderMs: number; defocusRenderMs: number }> = {};
for (const ob of spec.objectives) {
  const times: number[] = [];
  const defocused: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [dz, sink] of [
      [0, times],
      [25, defocused],
    ] as const) {
      const x = 3000 + i * 1700;
      const y = 5000 + i * 900;
      const t0 = performance.now();
      renderFrame(
        {
          sample,
          objective: ob,
          sensor,
          illumination: spec.illumination,
          centreXUm: x,
          centreYUm: y,
          focalPlaneUm: sample.surfaceHeightUm(x, y) + dz,
          rotationRad: 0.01,
          flipX: false,
          exposureMs: 2,
          gainDb: 0,
          noiseSeed: i,
        },
        out,
        undefined,
        scratch,
      );
      sink.push(performance.now() - t0);
    }
  }
  perObjective[ob.name] = { renderMs: median(times), defocusRenderMs: median(defocused) };
}

const copies: number[] = [];
for (let i = 0; i < 21; i++) {
  const t0 = performance.now();
  copy.set(out);
  copies.push(performance.now() - t0);
}
const copyMs = median(copies);

const g0 = performance.now();
const big = new SyntheticSample({ seed: 2, widthUm: 20_000, heightUm: 20_000, defectDensity: 0.05 });
const generateMs = performance.now() - g0;

const survey = perObjective[spec.objectives[0]!.name]!;
const zoom = perObjective[spec.objectives[1]!.name]!;
const renderMs2048 = median([survey.renderMs, zoom.renderMs, survey.defocusRenderMs, zoom.defocusRenderMs]);
const result = {
  renderMs2048: round(renderMs2048),
  renderMs2048Survey: round(survey.renderMs),
  renderMs2048Zoom: round(zoom.renderMs),
  renderMs2048Defocused: round(median([survey.defocusRenderMs, zoom.defocusRenderMs])),
  copyMs2048: round(copyMs),
  ratioToCopy: round(renderMs2048 / copyMs),
  megapixelsPerSec: round(4.194304 / (renderMs2048 / 1000)),
  sample20mmDefects: big.defects().length,
  sample20mmDensity: round(big.achievedDensity, 4),
  sample20mmGenerateMs: round(generateMs),
  runs,
};
console.log(
  `render 2048² 16-bit: survey ${result.renderMs2048Survey} ms, zoom ${result.renderMs2048Zoom} ms, defocused ${result.renderMs2048Defocused} ms; copy ${result.copyMs2048} ms`,
);
console.log(`20 × 20 mm sample at 5 %: ${result.sample20mmDefects} defects in ${result.sample20mmGenerateMs} ms`);
console.log(JSON.stringify(result));

function round(v: number, d = 2): number {
  const k = 10 ** d;
  return Math.round(v * k) / k;
}
