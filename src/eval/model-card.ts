/** MODEL_CARD.md of a bundle, rendered from its manifest so the card never disagrees with the numbers. */
import type { MetricSummary, ModelManifest } from '../inference/manifest.js';

const f3 = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toFixed(3));

function metricsTable(model: MetricSummary, baseline: MetricSummary): string {
  // Bundles measured before the IoU ≥ 0.3 figures were reported keep their table as it was.
  const lenient = model.objectF1At03 !== undefined;
  const lines = [
    `| detector | mean IoU | mean Dice | mAP@0.5 | object precision | object recall | object F1 |${lenient ? ' object recall @0.3 | object F1 @0.3 |' : ''} ms / tile |`,
    `|---|---:|---:|---:|---:|---:|---:|${lenient ? '---:|---:|' : ''}---:|`,
  ];
  for (const [label, s] of [
    ['model', model],
    ['classical baseline', baseline],
  ] as const) {
    lines.push(
      `| ${label} | ${f3(s.meanIoU)} | ${f3(s.meanDice)} | ${f3(s.mAP50)} | ${f3(s.objectPrecision)} | ${f3(s.objectRecall)} | ${f3(s.objectF1)} |${lenient ? ` ${f3(s.objectRecallAt03)} | ${f3(s.objectF1At03)} |` : ''} ${s.msPerTile.toFixed(1)} |`,
    );
  }
  lines.push(
    '',
    `| class | IoU (model / baseline) | Dice | object F1 | AP@0.5 |${lenient ? ' object recall @0.3 | object F1 @0.3 |' : ''}`,
    `|---|---|---|---|---|${lenient ? '---|---|' : ''}`,
  );
  model.perClass.forEach((c, i) => {
    const b = baseline.perClass[i];
    lines.push(
      `| ${c.class} | ${f3(c.iou)} / ${f3(b?.iou)} | ${f3(c.dice)} / ${f3(b?.dice)} | ${f3(c.f1)} / ${f3(b?.f1)} | ${f3(c.ap50)} / ${f3(b?.ap50)} |${lenient ? ` ${f3(c.recallAt03)} / ${f3(b?.recallAt03)} | ${f3(c.f1At03)} / ${f3(b?.f1At03)} |` : ''}`,
    );
  });
  return lines.join('\n');
}

function meanSd(xs: number[]): string {
  if (!xs.length) return '—';
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${mean.toFixed(3)} ± ${sd.toFixed(3)}`;
}

export function renderModelCard(m: ModelManifest): string {
  const t = m.training;
  const d = t.dataset;
  const split = t.split;
  const out: string[] = [];
  out.push(`# Model card: ${m.name} ${m.version}`, '', m.description, '');
  out.push('## What it does', '');
  out.push(
    `- Task: ${m.task === 'defect-probability' ? 'per-pixel defect probability (one foreground class), tuned for recall' : 'semantic segmentation, one class per pixel'}.`,
  );
  out.push(`- Classes: ${m.classes.map((c, i) => (i === 0 ? `${c} (background, not reported)` : c)).join(', ')}.`);
  const binning = m.input.binning ?? 1;
  out.push(
    `- Input: ${m.input.layout} ${m.input.dtype}, 1 grey channel, tiles of ${m.input.tileSize}² px (sides multiple of ${m.input.sizeMultiple})${binning > 1 ? ` of frames binned ${binning} × ${binning} (the runtime bins and maps results back to frame pixels)` : ''}; x = (pixel / (2^bitDepth − 1) − ${m.input.normalisation.mean}) / ${m.input.normalisation.std}.`,
  );
  out.push(`- Output: '${m.output.name}', softmax probabilities per class.`);
  out.push(
    `- Pixel size trained at: ${m.pixelSizeUm === null ? 'not stated by the data source (sizes in µm need the caller’s calibration)' : `${m.pixelSizeUm} µm`}.`,
  );
  out.push(
    `- Thresholds: defect where P(not background) ≥ ${m.thresholds.foreground}${m.thresholds.selectedBy ? ` (${m.thresholds.selectedBy})` : ''}; ${m.thresholds.closePx ? `foreground closed with a ${m.thresholds.closePx} px radius (joins a defect broken by gaps); ` : ''}regions under ${m.thresholds.minAreaPx} px dropped.`,
  );
  out.push(
    `- Network: ${m.model.architecture ?? 'U-Net'}, ${m.model.parameters ?? '?'} parameters, ONNX opset ${m.model.opset}, ${m.model.bytes} bytes, sha256 \`${m.model.sha256}\`.`,
  );
  out.push('', '## Training data', '');
  out.push(
    `- ${d.name} (${d.format}), ${d.images} images in ${d.groups ?? '?'} groups. Licence: ${d.license}${d.licenseFile ? ` (${d.licenseFile} travels with the data)` : ''}.`,
  );
  out.push(`- Attribution: ${d.attribution}`);
  out.push(
    `- Split (${split.method}): trained on ${split.trainingGroups.join(', ')}; early stopping watched ${split.monitorGroups.join(', ') || '—'}; validated on ${split.validationGroups.join(', ')} (never trained on).`,
  );
  out.push(
    `- Recipe: \`${t.command}\`, seed ${t.seed}${t['bestEpoch'] ? `, best epoch ${String(t['bestEpoch'])} of ${String(t['epochsRun'])}` : ''}; augmentation: ${Array.isArray(t['augmentation']) ? (t['augmentation'] as string[]).join(', ') : '—'}.`,
  );
  const from = t['fineTunedFrom'] as { name: string; version: string; sha256: string } | null | undefined;
  if (from) out.push(`- Fine-tuned from bundle ${from.name} ${from.version} (model sha256 \`${from.sha256.slice(0, 16)}…\`).`);
  if (typeof t['loss'] === 'string') out.push(`- Loss: ${t['loss']}.`);
  out.push('', '## Metrics on the validation split', '');
  if (m.metrics) {
    out.push(
      `Measured with \`${m.metrics.measuredWith}\`${m.metrics.measuredAt ? ` on ${m.metrics.measuredAt.slice(0, 10)}` : ''}: ${m.metrics.images} images of groups ${m.metrics.groups.join(', ')}. Objects are connected regions of one class (8-connectivity), matched one-to-one at mask IoU ≥ 0.5${m.metrics.model.objectF1At03 !== undefined ? ' (and ≥ 0.3 where marked @0.3)' : ''}; ms / tile on the measuring machine (2 CPU cores).`,
      '',
    );
    out.push(metricsTable(m.metrics.model, m.metrics.baseline));
  } else {
    out.push('Not measured yet: run `smartscope eval --model <bundle> --dataset <dir> --split validation --record`.');
  }
  const cv = t['crossValidation'] as Array<{ fold: number; iou: Array<number | null>; meanForegroundIoU: number }> | null | undefined;
  if (cv && cv.length) {
    out.push('', `Cross-validation (${cv.length} folds, pixel IoU per class from the training script, whole images):`, '');
    out.push(
      `| fold | ${m.classes.slice(1).join(' | ')} | mean |`,
      `|---|${m.classes
        .slice(1)
        .map(() => '---:')
        .join('|')}|---:|`,
    );
    for (const f of cv)
      out.push(
        `| ${f.fold} | ${f.iou
          .slice(1)
          .map((v) => f3(v))
          .join(' | ')} | ${f3(f.meanForegroundIoU)} |`,
      );
    const cols = m.classes.slice(1).map((_, k) => cv.map((f) => f.iou[k + 1]).filter((v): v is number => v !== null));
    cols.push(cv.map((f) => f.meanForegroundIoU));
    out.push(`| mean ± sd | ${cols.map((c) => meanSd(c)).join(' | ')} |`);
  }
  const curve = t['learningCurve'] as Array<{ trainingGroups: number; trainingImages: number; validationMeanForegroundIoU: number }> | null | undefined;
  if (curve && curve.length) {
    out.push('', 'Learning curve (validation mean foreground IoU by the amount of training data, same validation and monitor groups):', '');
    out.push('| training groups | training images | validation mean IoU |', '|---:|---:|---:|');
    for (const p of curve) out.push(`| ${p.trainingGroups} | ${p.trainingImages} | ${f3(p.validationMeanForegroundIoU)} |`);
  }
  out.push('', '## Limits', '');
  out.push('- Validation groups are few; numbers carry wide uncertainty and hold for images like the training data only.');
  if (m.pixelSizeUm !== null) out.push(`- Frames at another pixel size than ${m.pixelSizeUm} µm must be resampled first; the runtime warns when they differ.`);
  out.push('', '## Licence', '');
  out.push(`- Model: ${m.license.model}.${m.license.note ? ` ${m.license.note}` : ''}`);
  out.push('');
  return out.join('\n');
}
