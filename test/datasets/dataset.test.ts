import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Dataset } from '../../src/datasets/dataset.js';
import { connectedComponentsJs } from '../../src/geometry/regions.js';
import { fillPolygon } from '../../src/datasets/raster.js';
import { writeTiff } from '../support/tiff.js';

/** Builds one small dataset of each format on disk, with known labels. */
async function fixtures(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'smartscope-ds-'));
  const w = 40;
  const h = 30;
  const grey = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) grey.fill(i % 251, i * 3, i * 3 + 3);
  // mask-tiff: class 1 in a rectangle, class 2 on one row.
  const mt = join(root, 'ebc');
  mkdirSync(join(mt, 'images'), { recursive: true });
  mkdirSync(join(mt, 'masks'));
  const m = Buffer.alloc(w * h);
  for (let y = 5; y < 10; y++) for (let x = 3; x < 13; x++) m[y * w + x] = 1;
  for (let x = 20; x < 35; x++) m[20 * w + x] = 2;
  writeTiff(join(mt, 'images', 'a.tif'), w, h, 3, 8, grey);
  writeTiff(join(mt, 'masks', 'a.tif'), w, h, 1, 8, m);
  // color-mask, 16-bit RGBA: pure blue = first class, pure red = second, grey elsewhere.
  const cm = join(root, 'alloy');
  mkdirSync(join(cm, 'images'), { recursive: true });
  mkdirSync(join(cm, 'masks'));
  const rgba = new Uint16Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const g = (i * 97) % 65535;
    rgba.set([g, g, g, 65535], i * 4);
  }
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) rgba.set([0, 0, 65535, 65535], (y * w + x) * 4);
  rgba.set([65535, 0, 0, 65535], (29 * w + 39) * 4);
  // An almost-pure colour must not count.
  rgba.set([0, 0, 65534, 65535], (15 * w + 15) * 4);
  writeTiff(join(cm, 'masks', 'b_mask.tif'), w, h, 4, 16, rgba);
  writeTiff(join(cm, 'images', 'b.tif'), w, h, 3, 8, grey);
  // labelme
  const lm = join(root, 'pits');
  mkdirSync(join(lm, 'images'), { recursive: true });
  mkdirSync(join(lm, 'labels'));
  await sharp(grey, { raw: { width: w, height: h, channels: 3 } })
    .jpeg()
    .toFile(join(lm, 'images', 'c.jpg'));
  writeFileSync(
    join(lm, 'labels', 'c.json'),
    JSON.stringify({
      imageWidth: w,
      imageHeight: h,
      shapes: [
        {
          label: 'Pitting',
          shape_type: 'polygon',
          points: [
            [10, 10],
            [20, 10],
            [20, 20],
            [10, 20],
          ],
        },
      ],
    }),
  );
  return root;
}

describe('dataset readers', async () => {
  const root = await fixtures();

  it('reads class-value TIFF masks', async () => {
    const ds = Dataset.open(join(root, 'ebc'), { format: 'mask-tiff', classes: ['oxide', 'crack'] });
    const img = await ds.load(ds.entries[0]!);
    expect([img.width, img.height, img.maxValue]).toEqual([40, 30, 255]);
    expect(img.pixels[41]).toBe(41);
    const { regions } = connectedComponentsJs(img.mask, 40, 30);
    expect(regions.map((r) => [r.value, r.area, r.bbox])).toEqual([
      [1, 50, { x: 3, y: 5, width: 10, height: 5 }],
      [2, 15, { x: 20, y: 20, width: 15, height: 1 }],
    ]);
  });

  it('reads 16-bit colour-painted masks by exact colour, bypassing colour management', async () => {
    const ds = Dataset.open(join(root, 'alloy'), {
      format: 'color-mask',
      classes: ['secondary', 'tertiary'],
      colours: [
        { name: 'secondary', rgb: [0, 0, 1] },
        { name: 'tertiary', rgb: [1, 0, 0] },
      ],
    });
    expect(ds.entries[0]!.labelPath.endsWith('b_mask.tif')).toBe(true);
    const img = await ds.load(ds.entries[0]!);
    const counts = [0, 0, 0];
    for (const v of img.mask) counts[v]!++;
    expect(counts).toEqual([40 * 30 - 17, 16, 1]);
    expect(img.mask[15 * 40 + 15]).toBe(0);
  });

  it('rasterises labelme polygons at pixel centres', async () => {
    const ds = Dataset.open(join(root, 'pits'), { format: 'labelme', classes: ['pitting'] });
    const img = await ds.load(ds.entries[0]!);
    let n = 0;
    for (const v of img.mask) n += v;
    expect(n).toBe(100);
    expect(img.mask[10 * 40 + 10]).toBe(1);
    expect(img.mask[20 * 40 + 20]).toBe(0);
  });

  it('names the problem when a folder cannot be read', () => {
    expect(() => Dataset.open(join(root, 'nope'))).toThrow(`dataset folder ${join(root, 'nope')} does not exist`);
    expect(() => Dataset.open(join(root, 'ebc'))).toThrow('format not recognised; give one of mask-tiff, color-mask, labelme, twin');
    expect(() => Dataset.open(join(root, 'ebc'), { format: 'mask-tiff' })).toThrow('give the class names of the mask-tiff labels');
  });

  it('refuses labels that name no known class', async () => {
    const ds = Dataset.open(join(root, 'pits'), { format: 'labelme', classes: ['scratch'] });
    await expect(ds.load(ds.entries[0]!)).rejects.toThrow('shape 0 has label "Pitting", not one of scratch');
  });
});

describe('polygon fill', () => {
  it('fills a triangle with the even-odd rule at pixel centres', () => {
    const m = new Uint8Array(10 * 10);
    fillPolygon(
      m,
      10,
      10,
      [
        [0, 0],
        [10, 0],
        [0, 10],
      ],
      3,
    );
    let n = 0;
    for (const v of m) if (v === 3) n++;
    expect(n).toBe(45);
  });
});

describe('CVAT segmentation-mask export', () => {
  it('reads classes and colours from labelmap.txt, masks from SegmentationClass/ and groups from manifest.csv', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-cvat-'));
    mkdirSync(join(dir, 'JPEGImages'));
    mkdirSync(join(dir, 'SegmentationClass'));
    writeFileSync(join(dir, 'labelmap.txt'), '# label:color_rgb:parts:actions\nbackground:0,0,0::\npit:250,50,83::\ncrack:51,221,255::\n');
    writeFileSync(join(dir, 'manifest.csv'), 'image,group\nJPEGImages/s1.png,sample-1\n');
    const w = 12;
    const h = 8;
    const img = Buffer.alloc(w * h, 120);
    const rgb = Buffer.alloc(w * h * 3);
    for (let x = 2; x < 5; x++) rgb.set([250, 50, 83], (3 * w + x) * 3);
    rgb.set([51, 221, 255], (7 * w + 11) * 3);
    for (const stem of ['s1', 's2']) {
      await sharp(img, { raw: { width: w, height: h, channels: 1 } })
        .png()
        .toFile(join(dir, 'JPEGImages', `${stem}.png`));
      await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(join(dir, 'SegmentationClass', `${stem}.png`));
    }
    const ds = Dataset.open(dir);
    expect(ds.spec.format).toBe('cvat-mask');
    expect(ds.classes).toEqual(['pit', 'crack']);
    expect(ds.entries.map((e) => [e.name, e.group])).toEqual([
      ['s1', 'sample-1'],
      ['s2', 's2'],
    ]);
    const l = await ds.load(ds.entries[0]!);
    expect([l.mask[3 * w + 2], l.mask[3 * w + 4], l.mask[7 * w + 11], l.mask[0]]).toEqual([1, 1, 2, 0]);
    expect(l.mask.reduce((a, v) => a + (v ? 1 : 0), 0)).toBe(4);
  });

  it('refuses a labelmap without exactly one black background label', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-cvat-'));
    mkdirSync(join(dir, 'JPEGImages'));
    mkdirSync(join(dir, 'SegmentationClass'));
    writeFileSync(join(dir, 'labelmap.txt'), 'pit:250,50,83::\n');
    expect(() => Dataset.open(dir)).toThrow('expected exactly one black (background) label');
  });
});
