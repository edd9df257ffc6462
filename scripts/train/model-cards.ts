/**
 * Re-renders MODEL_CARD.md of every bundle from its manifest and prints the validation metrics of all of them, model
 * beside classical baseline, as the Markdown table in docs/models.md:
 *   node dist/scripts/train/model-cards.js [modelsDir]
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderModelCard } from '../../src/eval/model-card.js';
import { readManifest, shippedModelsDir } from '../../src/inference/manifest.js';

const f3 = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toFixed(3));
const dir = process.argv[2] ?? shippedModelsDir();
const rows = [
  '| bundle | validation split | detector | mean IoU | mean Dice | mAP@0.5 | object P | object R | object F1 | IoU per class |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
];
for (const name of readdirSync(dir)
  .filter((n) => existsSync(join(dir, n, 'manifest.json')))
  .sort()) {
  const m = readManifest(join(dir, name));
  writeFileSync(join(dir, name, 'MODEL_CARD.md'), renderModelCard(m));
  if (!m.metrics) {
    rows.push(`| ${name} | not measured | | | | | | | | |`);
    continue;
  }
  const g = m.metrics.groups.length;
  const split = `${m.metrics.images} images (${g} group${g === 1 ? '' : 's'})`;
  for (const [label, s] of [
    ['model', m.metrics.model],
    ['classical', m.metrics.baseline],
  ] as const) {
    const perClass = s.perClass.map((c) => `${c.class} ${f3(c.iou)}`).join(', ');
    rows.push(
      `| ${label === 'model' ? name : ''} | ${label === 'model' ? split : ''} | ${label} | ${f3(s.meanIoU)} | ${f3(s.meanDice)} | ${f3(s.mAP50)} | ${f3(s.objectPrecision)} | ${f3(s.objectRecall)} | ${f3(s.objectF1)} | ${perClass} |`,
    );
  }
}
process.stdout.write(`${rows.join('\n')}\n`);
