/**
 * `smartscope dataset export --reviewed`: the defects people reviewed on the web page, as labelled training data in
 * the twin dataset format the training scripts and `smartscope eval` read (manifest.json with format
 * smartscope-twin, images/*.png grey, masks/*.png with 0 = background and k = classes[k − 1], defects/*.json).
 *
 * Each reviewed defect becomes one item: its zoom crop from the records, and a mask from its outline filled with the
 * class the reviewer settled on — the model's class when confirmed, the corrected class when reclassified, nothing
 * (a hard negative) when marked false. The latest review of a defect counts. Items are grouped by scan, so a
 * train/validation split keeps a scan's defects together.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { fillPolygon } from '../datasets/raster.js';
import type { Records } from './records.js';

export interface ReviewedItem {
  name: string;
  image: string;
  mask: string;
  defects: string;
  group: string;
  verdict: string;
  modelClass: string;
  class: string | null;
  reviewedBy: string;
  reviewedAt: string;
}

export interface ReviewedExport {
  manifest: { format: 'smartscope-twin'; version: 1; source: 'reviews'; classes: string[]; bitDepth: number; tiles: ReviewedItem[] };
  /** Reviewed defects that could not be exported, with the reason (image deleted by retention, no outline, …). */
  skipped: Array<{ uid: string; reason: string }>;
}

interface Row {
  uid: string;
  modelClass: string;
  scanId: string;
  outline: string | null;
  path: string | null;
  format: string | null;
  width: number | null;
  height: number | null;
  deletedAt: string | null;
  verdict: 'confirmed' | 'false' | 'reclassified';
  reviewClass: string | null;
  user: string;
  at: string;
  recipeClasses: string | null;
}

export async function exportReviewed(records: Records, outDir: string): Promise<ReviewedExport> {
  const rows = records.db
    .prepare(
      `SELECT d.uid, d.class AS modelClass, d.scan_id AS scanId, d.outline, i.path, i.format, i.width, i.height, i.deleted_at AS deletedAt,
              r.verdict, r.class AS reviewClass, r.user, r.at, json_extract(sc.recipe, '$.classes') AS recipeClasses
       FROM defect_reviews r
       JOIN defects d ON d.uid = r.defect_uid
       JOIN scans sc ON sc.id = d.scan_id
       LEFT JOIN images i ON i.id = d.image_id
       WHERE r.id = (SELECT MAX(id) FROM defect_reviews WHERE defect_uid = r.defect_uid)
       ORDER BY r.id`,
    )
    .all() as Row[];
  const classes: string[] = [];
  const addClass = (c: string | null | undefined): void => {
    if (c && !classes.includes(c)) classes.push(c);
  };
  for (const r of rows) for (const c of r.recipeClasses ? (JSON.parse(r.recipeClasses) as string[]) : []) addClass(c);
  for (const r of rows) addClass(r.verdict === 'reclassified' ? r.reviewClass : r.modelClass);
  const skipped: ReviewedExport['skipped'] = [];
  const usable: Array<{
    row: Row;
    pixels: Uint8Array | Uint16Array;
    bitDepth: number;
    outline: { bboxPx: [number, number, number, number]; contourPx?: Array<[number, number]> };
  }> = [];
  for (const r of rows) {
    if (!r.path || !r.width || !r.height || r.format !== 'raw') {
      skipped.push({ uid: r.uid, reason: 'no zoom crop recorded' });
      continue;
    }
    if (r.deletedAt || !existsSync(r.path)) {
      skipped.push({ uid: r.uid, reason: 'zoom crop deleted by retention' });
      continue;
    }
    if (!r.outline) {
      skipped.push({ uid: r.uid, reason: 'no outline recorded (scanned before outlines were kept)' });
      continue;
    }
    const o = JSON.parse(r.outline) as { bitDepth: number; bboxPx: [number, number, number, number]; contourPx?: Array<[number, number]> };
    const data = readFileSync(r.path);
    const n = r.width * r.height;
    const pixels =
      data.length === 2 * n
        ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length))
        : data.length === n
          ? new Uint8Array(data)
          : null;
    if (!pixels) {
      skipped.push({ uid: r.uid, reason: 'zoom crop does not match its recorded size' });
      continue;
    }
    usable.push({ row: r, pixels, bitDepth: pixels instanceof Uint16Array ? o.bitDepth : 8, outline: o });
  }
  const bitDepth = Math.max(8, ...usable.map((u) => u.bitDepth));
  for (const d of ['images', 'masks', 'defects']) mkdirSync(join(outDir, d), { recursive: true });
  const tiles: ReviewedItem[] = [];
  for (const { row: r, pixels, bitDepth: depth, outline } of usable) {
    const w = r.width!;
    const h = r.height!;
    const name = r.uid;
    // One bit depth for the whole dataset: shallower crops are scaled up to it.
    const shift = bitDepth - depth;
    const img = bitDepth === 8 ? Uint8Array.from(pixels) : Uint16Array.from(pixels, (v) => v << shift);
    await sharp(img, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace(bitDepth === 8 ? 'b-w' : 'grey16')
      .png()
      .toFile(join(outDir, 'images', `${name}.png`));
    const mask = new Uint8Array(w * h);
    const cls = r.verdict === 'false' ? null : r.verdict === 'reclassified' ? r.reviewClass : r.modelClass;
    if (cls) {
      const id = classes.indexOf(cls) + 1;
      if (outline.contourPx && outline.contourPx.length >= 3) fillPolygon(mask, w, h, outline.contourPx, id);
      else {
        const [bx, by, bw, bh] = outline.bboxPx.map(Math.round) as [number, number, number, number];
        for (let y = Math.max(0, by); y < Math.min(h, by + bh); y++) mask.fill(id, y * w + Math.max(0, bx), y * w + Math.min(w, bx + bw));
      }
    }
    await sharp(mask, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(join(outDir, 'masks', `${name}.png`));
    const defects = cls ? [{ className: cls, classId: classes.indexOf(cls) + 1, bboxPx: outline.bboxPx, modelClass: r.modelClass, verdict: r.verdict }] : [];
    writeFileSync(join(outDir, 'defects', `${name}.json`), `${JSON.stringify(defects, null, 1)}\n`);
    tiles.push({
      name,
      image: `images/${name}.png`,
      mask: `masks/${name}.png`,
      defects: `defects/${name}.json`,
      group: r.scanId,
      verdict: r.verdict,
      modelClass: r.modelClass,
      class: cls,
      reviewedBy: r.user,
      reviewedAt: r.at,
    });
  }
  const manifest: ReviewedExport['manifest'] = { format: 'smartscope-twin', version: 1, source: 'reviews', classes, bitDepth, tiles };
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return { manifest, skipped };
}
