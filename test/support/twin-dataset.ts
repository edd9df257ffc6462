/**
 * A tiny dataset in the twin's export format (manifest.json + 16-bit grey PNG images + 8-bit PNG class masks +
 * defect lists), written from masks the test chooses: each image is dark where the mask has a class and bright
 * elsewhere, with a little deterministic texture.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export interface TileSpec {
  name: string;
  group: string;
  /** Class per pixel (0 = background, k = classes[k − 1]). */
  mask: Uint8Array;
  defects?: Array<{ classId: number; bboxPx: [number, number, number, number] }>;
}

export async function writeTwinDataset(dir: string, size: number, tiles: TileSpec[], classes = ['scratch', 'pit', 'particle', 'crack']): Promise<void> {
  for (const d of ['images', 'masks', 'defects']) mkdirSync(join(dir, d), { recursive: true });
  const entries = [];
  for (const t of tiles) {
    const img = new Uint16Array(size * size);
    for (let i = 0; i < img.length; i++) img[i] = (t.mask[i] ? 600 : 3000) + ((i * 7919) % 97);
    // A Uint16Array tells sharp the raw input is 16-bit.
    await sharp(img, { raw: { width: size, height: size, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(join(dir, 'images', `${t.name}.png`));
    await sharp(Buffer.from(t.mask), { raw: { width: size, height: size, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(join(dir, 'masks', `${t.name}.png`));
    writeFileSync(join(dir, 'defects', `${t.name}.json`), JSON.stringify(t.defects ?? []));
    entries.push({
      name: t.name,
      image: `images/${t.name}.png`,
      mask: `masks/${t.name}.png`,
      defects: `defects/${t.name}.json`,
      group: t.group,
      defectCount: t.defects?.length ?? 0,
    });
  }
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify(
      { format: 'smartscope-twin', version: 1, classes, objective: '50x', pixelSizeUm: 0.13, bitDepth: 12, tilePx: size, seed: 1, tiles: entries },
      null,
      1,
    ),
  );
}

/** A mask with axis-aligned rectangles [x, y, w, h, class]. */
export function rectMask(size: number, rects: Array<[number, number, number, number, number]>): Uint8Array {
  const m = new Uint8Array(size * size);
  for (const [x, y, w, h, c] of rects) for (let r = y; r < y + h; r++) for (let k = x; k < x + w; k++) m[r * size + k] = c;
  return m;
}

/** The training scripts' smoke dataset: 12 tiles of 64² in 6 groups, one rectangle of each class in turn. */
export async function writeSmokeDataset(dir: string): Promise<void> {
  const tiles = Array.from({ length: 12 }, (_, k) => ({
    name: `t${k}`,
    group: `g${k % 6}`,
    mask: rectMask(64, [[(k * 7) % 40, (k * 11) % 40, 12, 6, 1 + (k % 4)]]),
  }));
  await writeTwinDataset(dir, 64, tiles);
}
