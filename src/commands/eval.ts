import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Dataset, type DatasetFormat } from '../datasets/dataset.js';
import { evaluate, type EvalReport } from '../eval/evaluate.js';
import { renderModelCard } from '../eval/model-card.js';
import { formatComparison, formatReport, summarise } from '../eval/report.js';
import { ClassicalDetector } from '../inference/classical-detector.js';
import { classicalPreset } from '../inference/classical-presets.js';
import type { Detector } from '../inference/detector.js';
import { bundleDir } from '../inference/factory.js';
import { readManifest, type ModelManifest } from '../inference/manifest.js';
import { OnnxDetector } from '../inference/onnx-detector.js';
import { progress } from '../kernel/progress.js';
import { loadConfig } from './config.js';

interface EvalOpts {
  model?: string;
  baseline?: string | boolean;
  dataset: string;
  format?: DatasetFormat;
  classes?: string;
  split: 'all' | 'validation';
  groups?: string;
  limit?: number;
  pixelSize?: number;
  threads: number;
  out?: string;
  json?: boolean;
  record?: boolean;
  saveMasks?: string;
}

const positive =
  (name: string, integer: boolean) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    return n;
  };

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'score a model bundle and/or the classical baseline on a labelled dataset: IoU / Dice per class, object precision / recall / F1 at IoU ≥ 0.5 and ≥ 0.3 (8-connected regions), mAP@0.5, confusion matrices, latency per tile',
    )
    .requiredOption('--dataset <dir>', 'labelled dataset folder (mask-tiff, color-mask, labelme, CVAT segmentation-mask export or twin export)')
    .option('--model <bundle>', 'model bundle: a name under inference.modelsDir or a folder')
    .option('--baseline [preset]', 'also (or only) score the classical baseline; preset defaults to the model’s name')
    .option('--no-baseline', 'score the model only')
    .option('--format <format>', 'dataset format when the folder is not recognised', (v: string) => {
      if (!['mask-tiff', 'color-mask', 'labelme', 'cvat-mask', 'twin'].includes(v))
        throw new InvalidArgumentError(`--format must be mask-tiff, color-mask, labelme, cvat-mask or twin, got ${JSON.stringify(v)}`);
      return v as DatasetFormat;
    })
    .option('--classes <names>', 'comma-separated class names of the labels (mask value k = k-th name) for unrecognised folders')
    .option(
      '--split <split>',
      'validation: only the groups the model was validated on (from its manifest); all: every image',
      (v: string) => {
        if (v !== 'all' && v !== 'validation') throw new InvalidArgumentError(`--split must be all or validation, got ${JSON.stringify(v)}`);
        return v;
      },
      'all',
    )
    .option('--groups <names>', 'comma-separated groups to score (overrides --split)')
    .option('--limit <n>', 'score at most n images', positive('--limit', true))
    .option('--pixel-size <um>', 'pixel size of the images at the sample (µm), when the dataset does not state it', positive('--pixel-size', false))
    .option('--threads <n>', 'intra-op threads for the model', positive('--threads', true), 2)
    .option('--out <file>', 'write the full report as JSON to this file')
    .option('--json', 'print the JSON report on stdout instead of tables')
    .option(
      '--save-masks <dir>',
      'write the predicted class-index PNG of every image (<stem>.png) and an overlay of truth vs prediction (overlays/<stem>.png) into this folder',
    )
    .option('--record', 'write the validation metrics (model and baseline) into the bundle’s manifest.json and MODEL_CARD.md')
    .action(async (opts: EvalOpts) => {
      const cfg = loadConfig(program).inference;
      const dir = opts.model ? bundleDir(cfg, opts.model) : undefined;
      const manifest = dir ? readManifest(dir) : undefined;
      const baselinePreset = opts.baseline === false ? undefined : typeof opts.baseline === 'string' ? opts.baseline : manifest?.name;
      if (!dir && !baselinePreset) throw new Error('give --model <bundle> and/or --baseline <preset>');
      if (opts.record && (!manifest || !baselinePreset || opts.split !== 'validation' || opts.groups || opts.limit)) {
        throw new Error(
          '--record needs --model, the baseline, --split validation and no --groups / --limit: a manifest only records the full validation split',
        );
      }
      const dataset = Dataset.open(opts.dataset, {
        format: opts.format,
        classes: opts.classes
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      });
      let groups = opts.groups
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!groups && opts.split === 'validation') {
        if (!manifest) throw new Error('--split validation needs --model (the groups come from its manifest)');
        groups = manifest.training.split.validationGroups;
      }
      const detectors: Array<{ role: 'model' | 'baseline'; open: () => Promise<Detector> }> = [];
      if (dir)
        detectors.push({
          role: 'model',
          open: () => OnnxDetector.open({ bundleDir: dir, providers: cfg.providers, intraOpThreads: opts.threads, tileOverlap: cfg.tileOverlap }),
        });
      if (baselinePreset) {
        const preset = classicalPreset(baselinePreset);
        detectors.push({ role: 'baseline', open: async () => new ClassicalDetector(preset, manifest?.pixelSizeUm ?? null, manifest?.input.tileSize ?? 256) });
      }
      const reports: Partial<Record<'model' | 'baseline', EvalReport>> = {};
      for (const d of detectors) {
        const det = await d.open();
        try {
          const bar = progress(`eval ${det.info().name}`, { enabled: !opts.json });
          reports[d.role] = await evaluate(det, dataset, {
            groups,
            limit: opts.limit,
            pixelSizeUm: opts.pixelSize,
            // The model's masks go to the folder itself; the baseline's, when both run, beside them in baseline/.
            saveMasks: opts.saveMasks && (d.role === 'model' || !dir ? opts.saveMasks : join(opts.saveMasks, 'baseline')),
            onProgress: (k, n, name) => bar.update(k, n, name),
          });
          bar.done();
        } finally {
          await det.close();
        }
      }
      const json = { dataset: opts.dataset, split: opts.groups ? 'groups' : opts.split, groups: groups ?? null, ...reports };
      if (opts.out) {
        mkdirSync(dirname(opts.out), { recursive: true });
        writeFileSync(opts.out, `${JSON.stringify(json, null, 1)}\n`);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(json)}\n`);
      else {
        for (const r of [reports.model, reports.baseline]) if (r) process.stdout.write(`${formatReport(r)}\n\n`);
        if (reports.model && reports.baseline) process.stdout.write(`${formatComparison(reports.model, reports.baseline)}\n`);
      }
      if (opts.record && dir && manifest && reports.model && reports.baseline) {
        record(dir, manifest, reports.model, reports.baseline);
        if (!opts.json) process.stdout.write(`recorded the validation metrics in ${join(dir, 'manifest.json')} and MODEL_CARD.md\n`);
      }
      process.exitCode = 0;
    });
}

function record(dir: string, manifest: ModelManifest, model: EvalReport, baseline: EvalReport): void {
  const updated: ModelManifest = {
    ...manifest,
    metrics: {
      split: `validation (${manifest.training.split.method}${manifest.training.split.fold !== null && manifest.training.split.fold !== undefined ? `, fold ${manifest.training.split.fold}` : ''})`,
      groups: model.dataset.groups,
      images: model.dataset.images,
      measuredWith: `smartscope eval --split validation (${model.detector.provider}, ${model.latency.tiles} tiles)`,
      measuredAt: new Date().toISOString(),
      model: summarise(model),
      baseline: summarise(baseline),
    },
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(updated, null, 2)}\n`);
  writeFileSync(join(dir, 'MODEL_CARD.md'), renderModelCard(updated));
}
