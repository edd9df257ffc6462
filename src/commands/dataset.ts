import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { progress } from '../kernel/progress.js';
import { exportDataset } from '../sim/export.js';
import { hash4, Rng } from '../sim/rng.js';
import { SyntheticSample, SYNTHETIC_LIMITS } from '../sim/synthetic-sample.js';
import { createSample } from '../sim/twin.js';
import type { Sample } from '../sim/sample.js';
import { statePaths } from '../ops/state-paths.js';
import { Records } from '../records/records.js';
import { exportReviewed } from '../records/reviewed-export.js';
import { loadConfig } from './config.js';

function number(name: string, min: number, max: number, integer = false) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

export function registerDatasetCommands(program: Command): void {
  const ds = program.command('dataset').description('labelled datasets');
  ds.command('export')
    .description('render tiles of the twin at one objective as images + class masks + defect lists, for training and evaluation')
    .requiredOption('--out <dir>', 'output folder')
    .option('--objective <name>', 'objective to image with (from the twin config)', '5x')
    .option('--count <n>', 'number of tiles', number('--count', 1, 1_000_000, true), 200)
    .option('--tile <px>', 'tile size in pixels', number('--tile', 16, 8192, true), 256)
    .option('--seed <n>', 'seed of the export (sample seeds derive from it)', number('--seed', 0, 4294967295, true), 1)
    .option('--samples <n>', 'number of synthetic samples (groups) to draw tiles from', number('--samples', 1, 1000, true), 8)
    .option(
      '--density <fraction>',
      'defect area fraction of every sample (default: each sample draws one in 0.002–0.02)',
      number('--density', SYNTHETIC_LIMITS.minDensity, SYNTHETIC_LIMITS.maxDensity),
    )
    .option('--sample-size <um>', 'side of each synthetic sample (µm)', number('--sample-size', 500, 50_000), 4000)
    .option('--defect-share <fraction>', 'share of tiles centred near a defect', number('--defect-share', 0, 1), 0.7)
    .option('--focus-jitter <fraction>', 'focus error as a fraction of the depth of field (uniform ±)', number('--focus-jitter', 0, 10), 0.5)
    .option('--exposure <ms>', 'exposure time', number('--exposure', 0.01, 10_000), 2)
    .option(
      '--reviewed',
      'instead of rendering the twin: export the defects people reviewed on the web page (zoom crops, class masks with the corrected classes) from the records',
    )
    .option('--records <db>', 'with --reviewed: the records database (default: the one in appliance.stateDir)')
    .option('--json', 'print the manifest summary as JSON')
    .action(
      async (opts: {
        out: string;
        objective: string;
        count: number;
        tile: number;
        seed: number;
        samples: number;
        density?: number;
        sampleSize: number;
        defectShare: number;
        focusJitter: number;
        exposure: number;
        json?: boolean;
        reviewed?: boolean;
        records?: string;
      }) => {
        const cfg = loadConfig(program);
        if (opts.reviewed) {
          const records = Records.open({ path: opts.records ?? statePaths(cfg.appliance.stateDir).recordsDb, readonly: true });
          try {
            const r = await exportReviewed(records, opts.out);
            const counts: Record<string, number> = {};
            for (const t of r.manifest.tiles) counts[t.verdict] = (counts[t.verdict] ?? 0) + 1;
            const summary = { out: opts.out, items: r.manifest.tiles.length, verdicts: counts, classes: r.manifest.classes, skipped: r.skipped };
            if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
            else {
              process.stdout.write(
                `wrote ${summary.items} reviewed defects (${
                  Object.entries(counts)
                    .map(([k, v]) => `${v} ${k}`)
                    .join(', ') || 'none'
                }) to ${opts.out}\n`,
              );
              for (const s of r.skipped) process.stdout.write(`  skipped ${s.uid}: ${s.reason}\n`);
            }
          } finally {
            records.close();
          }
          return;
        }
        const t = cfg.twin;
        const objective = t.objectives.find((o) => o.name === opts.objective);
        if (!objective) throw new Error(`--objective ${opts.objective}: no such objective; the twin has ${t.objectives.map((o) => o.name).join(', ')}`);
        const samples: Array<{ sample: Sample; group: string; seed: number; density: number }> = [];
        if (t.sample.kind === 'image') {
          const sample = await createSample(t.seed, t.sample);
          samples.push({ sample, group: sample.id, seed: t.seed, density: 0 });
        } else {
          const rng = new Rng(opts.seed, 5);
          for (let k = 0; k < opts.samples; k++) {
            const seed = hash4(opts.seed, k, 0x5a);
            const density = opts.density ?? rng.logUniform(0.002, 0.02);
            const sample = new SyntheticSample({
              seed,
              widthUm: opts.sampleSize,
              heightUm: opts.sampleSize,
              texture: t.sample.texture,
              grainSizeUm: t.sample.grainSizeUm,
              defectDensity: density,
              classWeights: t.sample.classWeights,
              minSpacingUm: t.sample.minSpacingUm,
            });
            samples.push({ sample, group: `s${seed.toString(16).padStart(8, '0')}`, seed, density });
          }
        }
        const bar = progress(`export ${opts.objective}`, { enabled: !opts.json });
        const manifest = await exportDataset({
          outDir: opts.out,
          objective: { ...objective, parfocalOffsetUm: objective.parfocalOffsetUm ?? 0, centringOffsetUm: objective.centringOffsetUm ?? [0, 0] },
          sensor: t.sensor,
          illumination: t.illumination,
          camera: t.camera,
          samples,
          count: opts.count,
          tilePx: opts.tile,
          seed: opts.seed,
          defectShare: opts.defectShare,
          focusJitter: opts.focusJitter,
          exposureMs: opts.exposure,
          onProgress: (d, n) => bar.update(d, n),
        });
        bar.done();
        const defects = manifest.tiles.reduce((a, x) => a + x.defectCount, 0);
        const summary = {
          out: opts.out,
          tiles: manifest.tiles.length,
          groups: samples.length,
          objective: manifest.objective,
          pixelSizeUm: manifest.pixelSizeUm,
          tilePx: manifest.tilePx,
          defects,
          classes: manifest.classes,
        };
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else
          process.stdout.write(
            `wrote ${summary.tiles} tiles of ${summary.tilePx}² px at ${opts.objective} (${summary.pixelSizeUm.toFixed(3)} µm/px) from ${summary.groups} samples, ${defects} defects, to ${opts.out}\n`,
          );
      },
    );
}
