import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cropRect, renderThumbnail, sha256Hex } from '../../src/publish/thumbnails.js';
import { thumbnailSource } from './fixtures.js';

describe('thumbnails', () => {
  it('crops around the defect with context, square where the image allows, inside the image', () => {
    expect(cropRect({ x: 100, y: 100, width: 40, height: 20 }, 512, 512, 0.5)).toEqual({ x: 80, y: 70, width: 80, height: 80 });
    expect(cropRect({ x: 0, y: 0, width: 10, height: 10 }, 512, 512, 0.5)).toEqual({ x: 0, y: 0, width: 32, height: 32 });
    expect(cropRect({ x: 500, y: 200, width: 20, height: 20 }, 512, 300, 2)).toEqual({ x: 412, y: 160, width: 100, height: 100 });
    expect(cropRect({ x: 0, y: 0, width: 400, height: 10 }, 200, 100, 0.5)).toEqual({ x: 0, y: 0, width: 200, height: 100 });
  });

  it('renders a JPEG addressed by its SHA-256, with the heatmap and outline drawn over the defect', async () => {
    const t = await renderThumbnail(thumbnailSource(), { maxSidePx: 128 });
    expect(t.jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(t.sha256).toBe(sha256Hex(t.jpeg));
    expect([t.widthPx, t.heightPx]).toEqual([128, 128]);
    const meta = await sharp(t.jpeg).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([128, 128, 3]);
    // The heatmap tints the defect's neighbourhood red; the frame's corners stay gray.
    const { data } = await sharp(t.jpeg).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number): number[] => [data[(y * 128 + x) * 3]!, data[(y * 128 + x) * 3 + 1]!, data[(y * 128 + x) * 3 + 2]!];
    const [r, , b] = px(70, 58);
    expect(r - b).toBeGreaterThan(40);
    const [r0, g0, b0] = px(2, 2);
    expect(Math.max(Math.abs(r0 - g0), Math.abs(g0 - b0))).toBeLessThan(20);
    // Same input, same bytes, same address.
    expect((await renderThumbnail(thumbnailSource(), { maxSidePx: 128 })).sha256).toBe(t.sha256);
  });

  it('stays within maxBytes by lowering quality, then size', async () => {
    const src = thumbnailSource();
    // Noise does not compress: force the size bound to act.
    const data = src.image.data as Uint16Array;
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 20;
    const big = await renderThumbnail(src, { maxSidePx: 512, maxBytes: 4_194_304 });
    const small = await renderThumbnail(src, { maxSidePx: 512, maxBytes: 8192 });
    expect(big.jpeg.length).toBeGreaterThan(8192);
    expect(small.jpeg.length).toBeLessThanOrEqual(8192);
    expect(small.quality < big.quality || small.widthPx < big.widthPx).toBe(true);
  });

  it('refuses inconsistent input with a clear message', async () => {
    const src = thumbnailSource();
    await expect(renderThumbnail({ ...src, image: { ...src.image, width: 100 } })).rejects.toThrow(
      'Expected image data of width·height = 100·512 pixels for thumbnail but received 262144',
    );
    await expect(renderThumbnail({ ...src, box: { x: 600, y: 0, width: 10, height: 10 } })).rejects.toThrow(
      'Expected a defect box overlapping the 512×512 image for thumbnail but received {"x":600,"y":0,"width":10,"height":10}',
    );
    await expect(renderThumbnail({ ...src, heatmap: { data: new Float32Array(10), width: 4, height: 4 } })).rejects.toThrow(
      'Expected heatmap data of width·height = 4·4 for thumbnail but received 10',
    );
  });

  it('renders an 8-bit image without a heatmap or contour', async () => {
    const data = new Uint8Array(64 * 64).fill(128);
    const t = await renderThumbnail({ image: { data, width: 64, height: 64, bitDepth: 8 }, box: { x: 20, y: 20, width: 8, height: 8 } });
    expect(t.widthPx).toBe(256);
  });
});
