/**
 * Defect thumbnails: a crop around the defect from the confirming image, contrast-stretched, with the model's
 * probability heatmap blended over it (why the model flagged it), the defect box and contour drawn on top, encoded as
 * a JPEG no larger than `maxBytes`, and addressed by the SHA-256 of its bytes.
 *
 * sharp does the resampling, drawing (SVG) and encoding on libuv's thread pool; the only per-pixel work on the main
 * thread is the stretch of the crop and the heatmap blend at thumbnail size (256² pixels by default).
 */
import { createHash } from 'node:crypto';
import sharp, { type OverlayOptions } from 'sharp';

export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ThumbnailSource {
  /** The confirming image: gray pixels, row-major, no padding. */
  image: { data: Uint8Array | Uint16Array; width: number; height: number; bitDepth: 8 | 12 | 16 };
  /** The defect's bounding box in image pixels. */
  box: PixelRect;
  /** The defect's outline in image pixels (closed polygon). */
  contour?: ReadonlyArray<readonly [number, number]>;
  /**
   * The model's per-pixel defect probability: 0..1 floats, or 0..255 bytes. It covers `rect` of the image (default:
   * the whole image) at its own resolution.
   */
  heatmap?: { data: Float32Array | Uint8Array; width: number; height: number; rect?: PixelRect };
}

export interface ThumbnailOptions {
  maxSidePx: number;
  maxBytes: number;
  quality: number;
  /** Context around the box, in box sizes on each side. */
  marginFactor: number;
  heatmapOpacity: number;
}

export interface Thumbnail {
  jpeg: Buffer;
  /** Lowercase hex SHA-256 of `jpeg`: also its id. */
  sha256: string;
  widthPx: number;
  heightPx: number;
  quality: number;
  /** The part of the image shown, in image pixels. */
  crop: PixelRect;
}

export const defaultThumbnailOptions: ThumbnailOptions = { maxSidePx: 256, maxBytes: 65_536, quality: 82, marginFactor: 0.5, heatmapOpacity: 0.45 };

const MIN_QUALITY = 30;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The crop: the box plus margin, at least 32 px, square where the image allows, inside the image. */
export function cropRect(box: PixelRect, width: number, height: number, marginFactor: number): PixelRect {
  const side = Math.max(32, Math.ceil(Math.max(box.width, box.height) * (1 + 2 * marginFactor)));
  const w = Math.min(width, side);
  const h = Math.min(height, side);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x = Math.round(Math.min(Math.max(0, cx - w / 2), width - w));
  const y = Math.round(Math.min(Math.max(0, cy - h / 2), height - h));
  return { x, y, width: w, height: h };
}

function checkSource(src: ThumbnailSource): void {
  const { data, width, height } = src.image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height) {
    throw new Error(`Expected image data of width·height = ${width}·${height} pixels for thumbnail but received ${data.length}`);
  }
  const b = src.box;
  if (!(b.width > 0 && b.height > 0 && b.x + b.width > 0 && b.y + b.height > 0 && b.x < width && b.y < height)) {
    throw new Error(`Expected a defect box overlapping the ${width}×${height} image for thumbnail but received ${JSON.stringify(b)}`);
  }
  const hm = src.heatmap;
  if (hm && hm.data.length !== hm.width * hm.height) {
    throw new Error(`Expected heatmap data of width·height = ${hm.width}·${hm.height} for thumbnail but received ${hm.data.length}`);
  }
}

/** The crop as 8-bit gray, stretched between its 0.5th and 99.5th percentile. */
function stretchCrop(src: ThumbnailSource, crop: PixelRect): Buffer {
  const { data, width, bitDepth } = src.image;
  const levels = 1 << bitDepth;
  const hist = new Uint32Array(levels);
  for (let y = crop.y; y < crop.y + crop.height; y++) {
    const row = y * width;
    for (let x = crop.x; x < crop.x + crop.width; x++) hist[Math.min(levels - 1, data[row + x]!)]!++;
  }
  const n = crop.width * crop.height;
  const lowCount = n * 0.005;
  const highCount = n * 0.995;
  let lo = 0;
  let hi = levels - 1;
  for (let acc = 0, v = 0; v < levels; v++) {
    acc += hist[v]!;
    if (acc > lowCount) {
      lo = v;
      break;
    }
  }
  for (let acc = 0, v = 0; v < levels; v++) {
    acc += hist[v]!;
    if (acc >= highCount) {
      hi = v;
      break;
    }
  }
  const scale = 255 / Math.max(1, hi - lo);
  const out = Buffer.allocUnsafe(n);
  let i = 0;
  for (let y = crop.y; y < crop.y + crop.height; y++) {
    const row = y * width;
    for (let x = crop.x; x < crop.x + crop.width; x++) {
      const v = (data[row + x]! - lo) * scale;
      out[i++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** Probability at image coordinates (bilinear), 0 outside the heatmap. */
function heatAt(hm: NonNullable<ThumbnailSource['heatmap']>, rect: PixelRect, ix: number, iy: number): number {
  const fx = ((ix - rect.x) / rect.width) * hm.width - 0.5;
  const fy = ((iy - rect.y) / rect.height) * hm.height - 0.5;
  if (fx < -0.5 || fy < -0.5 || fx > hm.width - 0.5 || fy > hm.height - 0.5) return 0;
  const x0 = Math.max(0, Math.floor(fx));
  const y0 = Math.max(0, Math.floor(fy));
  const x1 = Math.min(hm.width - 1, x0 + 1);
  const y1 = Math.min(hm.height - 1, y0 + 1);
  const tx = Math.min(1, Math.max(0, fx - x0));
  const ty = Math.min(1, Math.max(0, fy - y0));
  const k = hm.data instanceof Uint8Array ? 1 / 255 : 1;
  const d = hm.data;
  const top = d[y0 * hm.width + x0]! * (1 - tx) + d[y0 * hm.width + x1]! * tx;
  const bottom = d[y1 * hm.width + x0]! * (1 - tx) + d[y1 * hm.width + x1]! * tx;
  const p = (top * (1 - ty) + bottom * ty) * k;
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

/**
 * The heatmap at thumbnail size as RGBA to lay over the image: transparent below p = 0.05, then yellow to red with
 * opacity growing with p. Undefined when there is nothing to draw.
 */
function heatmapOverlay(w: number, h: number, crop: PixelRect, src: ThumbnailSource, opacity: number): Buffer | undefined {
  const hm = src.heatmap;
  if (!hm || opacity <= 0) return undefined;
  const rect = hm.rect ?? { x: 0, y: 0, width: src.image.width, height: src.image.height };
  const rgba = Buffer.alloc(w * h * 4);
  let any = false;
  for (let y = 0; y < h; y++) {
    const iy = crop.y + ((y + 0.5) / h) * crop.height;
    for (let x = 0; x < w; x++) {
      const p = heatAt(hm, rect, crop.x + ((x + 0.5) / w) * crop.width, iy);
      if (p < 0.05) continue;
      const o = (y * w + x) * 4;
      rgba[o] = 255;
      rgba[o + 1] = 255 * (1 - p);
      rgba[o + 3] = 255 * opacity * p;
      any = true;
    }
  }
  return any ? rgba : undefined;
}

function overlaySvg(src: ThumbnailSource, crop: PixelRect, w: number, h: number): Buffer {
  const sx = w / crop.width;
  const sy = h / crop.height;
  const px = (x: number): string => ((x - crop.x) * sx).toFixed(1);
  const py = (y: number): string => ((y - crop.y) * sy).toFixed(1);
  const b = src.box;
  const parts = [
    `<rect x="${px(b.x)}" y="${py(b.y)}" width="${(b.width * sx).toFixed(1)}" height="${(b.height * sy).toFixed(1)}" fill="none" stroke="#00e5ff" stroke-width="1.5" stroke-dasharray="4 3"/>`,
  ];
  if (src.contour && src.contour.length >= 2) {
    const pts = src.contour.map(([x, y]) => `${px(x)},${py(y)}`).join(' ');
    parts.push(`<polygon points="${pts}" fill="none" stroke="#39ff14" stroke-width="1.5" stroke-linejoin="round"/>`);
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`);
}

/** Renders the thumbnail; lowers quality, then size, until the JPEG fits `maxBytes`. */
export async function renderThumbnail(src: ThumbnailSource, options: Partial<ThumbnailOptions> = {}): Promise<Thumbnail> {
  const opts = { ...defaultThumbnailOptions, ...options };
  checkSource(src);
  const crop = cropRect(src.box, src.image.width, src.image.height, opts.marginFactor);
  const gray = stretchCrop(src, crop);
  let side = opts.maxSidePx;
  for (;;) {
    const scale = side / Math.max(crop.width, crop.height);
    const w = Math.max(1, Math.round(crop.width * scale));
    const h = Math.max(1, Math.round(crop.height * scale));
    const heat = heatmapOverlay(w, h, crop, src, opts.heatmapOpacity);
    const layers: OverlayOptions[] = [{ input: overlaySvg(src, crop, w, h), top: 0, left: 0 }];
    if (heat) layers.unshift({ input: heat, raw: { width: w, height: h, channels: 4 }, top: 0, left: 0 });
    for (let q = opts.quality; q >= MIN_QUALITY; q -= 12) {
      const jpeg = await sharp(gray, { raw: { width: crop.width, height: crop.height, channels: 1 } })
        .resize(w, h, { kernel: scale > 1 ? 'cubic' : 'lanczos3', fit: 'fill' })
        .toColourspace('srgb')
        .composite(layers)
        .jpeg({ quality: q, optimiseCoding: true })
        .toBuffer();
      if (jpeg.length <= opts.maxBytes) return { jpeg, sha256: sha256Hex(jpeg), widthPx: w, heightPx: h, quality: q, crop };
    }
    if (side <= 16) throw new Error(`cannot fit a thumbnail into ${opts.maxBytes} bytes`);
    side = Math.floor(side * 0.75);
  }
}
