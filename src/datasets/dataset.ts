/**
 * Labelled image datasets: the three formats of the real micrograph collections we train and evaluate on, and the
 * twin's own export. Every reader yields grey images and per-pixel class masks (0 = background, k = classes[k − 1]).
 *
 * | format       | images                  | labels                                                        |
 * |--------------|-------------------------|---------------------------------------------------------------|
 * | `mask-tiff`  | images/<name>.tif       | masks/<name>.tif, one class value per pixel                    |
 * | `color-mask` | images/<name>.tif       | masks/<name>_mask.tif, pure colours per class (exact equality) |
 * | `labelme`    | images/<name>.jpg|png   | labels/<name>.json, labelme polygons                           |
 * | `twin`       | images/<name>.png       | masks/<name>.png + defects/<name>.json, manifest.json          |
 *
 * Pairing follows the dataset's manifest (manifest.csv columns image + mask|label, or manifest.json) when present.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { fillPolygon } from './raster.js';

export type DatasetFormat = 'mask-tiff' | 'color-mask' | 'labelme' | 'cvat-mask' | 'twin';

export interface DatasetEntry {
  name: string;
  /** Sample / location group: images of one group must stay on one side of a train/validation split. */
  group: string;
  imagePath: string;
  labelPath: string;
}

export interface LabelledImage {
  name: string;
  group: string;
  width: number;
  height: number;
  /** Grey levels as stored (8- or 16-bit container). */
  pixels: Uint8Array | Uint16Array;
  /** Largest value the format can hold in `pixels` (255, 4095, 65535). */
  maxValue: number;
  mask: Uint8Array;
}

export interface ColourClass {
  name: string;
  /** Colour at full scale, as fractions (0 or 1) of the mask's maximum value: [r, g, b]. */
  rgb: [number, number, number];
}

export interface DatasetSpec {
  format: DatasetFormat;
  classes: string[];
  /** color-mask only: which pure colour is which class. */
  colours?: ColourClass[];
  /** Pixel size of the images at the sample (µm) when the dataset states one. */
  pixelSizeUm?: number;
}

/**
 * The datasets we ship readers for, recognised by folder name, with their class meaning from each dataset's README.
 * Other folders need `format` and `classes` (and `colours` for colour masks) given explicitly.
 */
export const KNOWN_DATASETS: Record<string, DatasetSpec> = {
  nasa_ebc_sem: { format: 'mask-tiff', classes: ['oxide', 'crack'] },
  nasa_superalloy_sem: {
    format: 'color-mask',
    classes: ['secondary', 'tertiary'],
    colours: [
      { name: 'secondary', rgb: [0, 0, 1] },
      { name: 'tertiary', rgb: [1, 0, 0] },
    ],
  },
  bsdata_pitting: { format: 'labelme', classes: ['pitting'] },
};

export class Dataset {
  readonly entries: DatasetEntry[];

  constructor(
    readonly dir: string,
    readonly spec: DatasetSpec,
  ) {
    this.entries = listEntries(dir, spec.format);
    if (this.entries.length === 0) throw new Error(`dataset ${dir}: no ${spec.format} image/label pairs found`);
  }

  /** Opens a dataset folder, recognising its format (twin manifest, a known collection) unless one is given. */
  static open(dir: string, given: Partial<DatasetSpec> = {}): Dataset {
    if (!existsSync(dir)) throw new Error(`dataset folder ${dir} does not exist`);
    if (existsSync(join(dir, 'manifest.json')) && (!given.format || given.format === 'twin')) {
      const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { format?: string; classes?: string[]; pixelSizeUm?: number };
      if (m.format !== 'smartscope-twin') throw new Error(`dataset ${dir}: manifest.json has format ${JSON.stringify(m.format)}, expected "smartscope-twin"`);
      return new Dataset(dir, { format: 'twin', classes: given.classes ?? m.classes ?? [], pixelSizeUm: given.pixelSizeUm ?? m.pixelSizeUm });
    }
    if (existsSync(join(dir, 'labelmap.txt')) && existsSync(join(dir, 'SegmentationClass')) && (!given.format || given.format === 'cvat-mask')) {
      const labels = readCvatLabelmap(dir);
      return new Dataset(dir, { format: 'cvat-mask', classes: labels.map((l) => l.name), colours: labels, pixelSizeUm: given.pixelSizeUm });
    }
    const known = KNOWN_DATASETS[basename(dir.replace(/\/+$/, ''))];
    const format = given.format ?? known?.format;
    if (!format) throw new Error(`dataset ${dir}: format not recognised; give one of mask-tiff, color-mask, labelme, twin`);
    const classes = given.classes ?? (known?.format === format ? known.classes : undefined);
    if (!classes || classes.length === 0) throw new Error(`dataset ${dir}: give the class names of the ${format} labels`);
    const colours = given.colours ?? (known?.format === format ? known.colours : undefined);
    if (format === 'color-mask' && (!colours || colours.length === 0)) throw new Error(`dataset ${dir}: a color-mask dataset needs the colour of each class`);
    return new Dataset(dir, { format, classes, colours, pixelSizeUm: given.pixelSizeUm });
  }

  get classes(): string[] {
    return this.spec.classes;
  }

  async load(entry: DatasetEntry): Promise<LabelledImage> {
    const { pixels, width, height, maxValue } = await readGrey(entry.imagePath, this.spec.format === 'twin' ? twinBitDepth(this.dir) : undefined);
    const mask = await this.readMask(entry, width, height);
    return { name: entry.name, group: entry.group, width, height, pixels, maxValue, mask };
  }

  private async readMask(entry: DatasetEntry, width: number, height: number): Promise<Uint8Array> {
    switch (this.spec.format) {
      case 'mask-tiff':
      case 'twin': {
        const { data, info } = await sharp(entry.labelPath).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
        checkSize(entry, info.width, info.height, width, height);
        const mask = new Uint8Array(data.buffer, data.byteOffset, data.length);
        const n = this.spec.classes.length;
        for (let i = 0; i < mask.length; i++) {
          if (mask[i]! > n) throw new Error(`${entry.labelPath}: mask value ${mask[i]} at pixel ${i} has no class (classes: ${this.spec.classes.join(', ')})`);
        }
        return mask;
      }
      case 'color-mask':
      case 'cvat-mask':
        return readColourMask(entry, width, height, this.spec);
      case 'labelme':
        return readLabelme(entry, width, height, this.spec.classes);
    }
  }
}

function checkSize(entry: DatasetEntry, w: number, h: number, ew: number, eh: number): void {
  if (w !== ew || h !== eh) throw new Error(`${entry.labelPath}: label is ${w}×${h} but image ${entry.imagePath} is ${ew}×${eh}`);
}

function twinBitDepth(dir: string): number {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { bitDepth?: number };
  return m.bitDepth ?? 16;
}

/**
 * Reads an image as grey values in its own bit depth, without colour management (pixel values are data): RGB with
 * R = G = B (grey micrographs saved as RGB) keeps the value exactly; colour photographs become luminance (Rec. 601).
 */
export async function readGrey(
  path: string,
  bitDepth?: number,
): Promise<{ pixels: Uint8Array | Uint16Array; width: number; height: number; maxValue: number }> {
  const meta = await sharp(path).metadata();
  const deep = meta.depth === 'ushort';
  const colour = (meta.channels ?? 1) >= 3;
  const { data, info } = await sharp(path, { ignoreIcc: true })
    .toColourspace(deep ? (colour ? 'rgb16' : 'grey16') : colour ? 'srgb' : 'b-w')
    .raw({ depth: deep ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const src = deep ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length);
  const n = info.width * info.height;
  const c = info.channels;
  const maxValue = bitDepth ? (1 << bitDepth) - 1 : deep ? 65535 : 255;
  if (c === 1) return { pixels: src, width: info.width, height: info.height, maxValue };
  const pixels = deep ? new Uint16Array(n) : new Uint8Array(n);
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = src[i * c] === src[i * c + 1] && src[i * c] === src[i * c + 2];
  for (let i = 0; i < n; i++) {
    pixels[i] = grey ? src[i * c]! : Math.round(0.299 * src[i * c]! + 0.587 * src[i * c + 1]! + 0.114 * src[i * c + 2]!);
  }
  return { pixels, width: info.width, height: info.height, maxValue };
}

async function readColourMask(entry: DatasetEntry, width: number, height: number, spec: DatasetSpec): Promise<Uint8Array> {
  const meta = await sharp(entry.labelPath).metadata();
  const deep = meta.depth === 'ushort';
  // The masks were painted in GIMP and carry an ICC profile: colour management would shift the pure colours, so it is
  // bypassed and colours are compared exactly.
  const { data, info } = await sharp(entry.labelPath, { ignoreIcc: true })
    .toColourspace(deep ? 'rgb16' : 'srgb')
    .raw({ depth: deep ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  checkSize(entry, info.width, info.height, width, height);
  const px = deep ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data;
  const max = deep ? 65535 : 255;
  const c = info.channels;
  const mask = new Uint8Array(width * height);
  const colours = spec.colours!.map((col) => ({ id: spec.classes.indexOf(col.name) + 1, rgb: col.rgb.map((v) => Math.round(v * max)) }));
  for (const col of colours) if (col.id === 0) throw new Error(`colour class is not among the classes ${spec.classes.join(', ')}`);
  for (let i = 0; i < width * height; i++) {
    const r = px[i * c]!;
    const g = px[i * c + 1]!;
    const b = px[i * c + 2]!;
    for (const col of colours) {
      if (r === col.rgb[0] && g === col.rgb[1] && b === col.rgb[2]) {
        mask[i] = col.id;
        break;
      }
    }
  }
  return mask;
}

interface LabelmeFile {
  imageWidth?: number;
  imageHeight?: number;
  shapes?: Array<{ label?: string; points?: Array<[number, number]>; shape_type?: string }>;
}

async function readLabelme(entry: DatasetEntry, width: number, height: number, classes: string[]): Promise<Uint8Array> {
  let doc: LabelmeFile;
  try {
    doc = JSON.parse(readFileSync(entry.labelPath, 'utf8')) as LabelmeFile;
  } catch (err) {
    throw new Error(`${entry.labelPath}: not a labelme JSON file (${(err as Error).message})`);
  }
  if (doc.imageWidth !== undefined && doc.imageHeight !== undefined) checkSize(entry, doc.imageWidth, doc.imageHeight, width, height);
  const mask = new Uint8Array(width * height);
  const lower = classes.map((c) => c.toLowerCase());
  for (const [k, shape] of (doc.shapes ?? []).entries()) {
    const id = lower.indexOf((shape.label ?? '').toLowerCase()) + 1;
    if (id === 0) throw new Error(`${entry.labelPath}: shape ${k} has label ${JSON.stringify(shape.label)}, not one of ${classes.join(', ')}`);
    if ((shape.shape_type ?? 'polygon') !== 'polygon') throw new Error(`${entry.labelPath}: shape ${k} is a ${shape.shape_type}; only polygons are read`);
    fillPolygon(mask, width, height, shape.points ?? [], id);
  }
  return mask;
}

/**
 * labelmap.txt of a CVAT "Segmentation mask 1.1" export (`name:r,g,b:parts:actions` per line): the foreground
 * classes with their colours as fractions of 255; the black label is the background.
 */
export function readCvatLabelmap(dir: string): ColourClass[] {
  const out: ColourClass[] = [];
  let background = 0;
  for (const line of readFileSync(join(dir, 'labelmap.txt'), 'utf8').split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [name, colour] = t.split(':');
    const rgb = (colour ?? '').split(',').map(Number);
    if (!name || rgb.length !== 3 || rgb.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
      throw new Error(`${join(dir, 'labelmap.txt')}: line ${JSON.stringify(t)} is not name:r,g,b:…`);
    }
    if (rgb.every((v) => v === 0)) background++;
    else out.push({ name, rgb: rgb.map((v) => v / 255) as [number, number, number] });
  }
  if (background !== 1) throw new Error(`${join(dir, 'labelmap.txt')}: expected exactly one black (background) label`);
  return out;
}

function listEntries(dir: string, format: DatasetFormat): DatasetEntry[] {
  if (format === 'cvat-mask') {
    const groups = csvGroups(dir);
    const out: DatasetEntry[] = [];
    for (const f of readdirSync(join(dir, 'JPEGImages')).sort()) {
      const stem = f.slice(0, f.length - extname(f).length);
      const label = join(dir, 'SegmentationClass', `${stem}.png`);
      if (existsSync(label)) out.push({ name: stem, group: groups.get(stem) ?? stem, imagePath: join(dir, 'JPEGImages', f), labelPath: label });
    }
    return out;
  }
  if (format === 'twin') {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { tiles: Array<{ name: string; image: string; mask: string; group: string }> };
    return m.tiles.map((t) => ({ name: t.name, group: t.group, imagePath: join(dir, t.image), labelPath: join(dir, t.mask) }));
  }
  const fromCsv = readManifestCsv(dir);
  if (fromCsv) return fromCsv;
  const imgDir = join(dir, 'images');
  const out: DatasetEntry[] = [];
  for (const f of readdirSync(imgDir).sort()) {
    const stem = f.slice(0, f.length - extname(f).length);
    const label =
      format === 'labelme'
        ? join(dir, 'labels', `${stem}.json`)
        : format === 'color-mask'
          ? join(dir, 'masks', `${stem}_mask${extname(f)}`)
          : join(dir, 'masks', f);
    if (existsSync(label)) out.push({ name: stem, group: stem, imagePath: join(imgDir, f), labelPath: label });
  }
  return out;
}

/** Group per image stem from manifest.csv (columns image and group), when the folder has one. */
function csvGroups(dir: string): Map<string, string> {
  const p = join(dir, 'manifest.csv');
  const out = new Map<string, string>();
  if (!existsSync(p)) return out;
  const lines = readFileSync(p, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const head = parseCsvLine(lines[0] ?? '');
  const ii = head.indexOf('image');
  const gi = head.indexOf('group');
  if (ii < 0 || gi < 0) throw new Error(`${p}: needs the columns image and group`);
  for (const line of lines.slice(1)) {
    const cols = parseCsvLine(line);
    out.set(basename(cols[ii]!, extname(cols[ii]!)), cols[gi]!);
  }
  return out;
}

/** manifest.csv with columns image and mask (or label), and optionally group. */
function readManifestCsv(dir: string): DatasetEntry[] | null {
  const p = join(dir, 'manifest.csv');
  if (!existsSync(p)) return null;
  const lines = readFileSync(p, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const head = parseCsvLine(lines[0]!);
  const ii = head.indexOf('image');
  const li = head.indexOf('mask') >= 0 ? head.indexOf('mask') : head.indexOf('label');
  const gi = head.indexOf('group');
  if (ii < 0 || li < 0) return null;
  return lines.slice(1).map((line) => {
    const cols = parseCsvLine(line);
    const image = cols[ii]!;
    const stem = basename(image, extname(image));
    return { name: stem, group: gi >= 0 ? cols[gi]! : stem, imagePath: join(dir, image), labelPath: join(dir, cols[li]!) };
  });
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
