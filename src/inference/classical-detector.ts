/**
 * The classical baseline behind the Detector port: threshold (local contrast against a median background in units
 * of robust noise σ, or a global Otsu split) → opening / closing → connected components → region properties →
 * hand-written class rules. No learning; it exists so a model's advantage is a measured number.
 *
 * It runs on the calling thread: it is the reference in `smartscope eval` and the benchmark, not a production path.
 */
import {
  checkInput,
  detectorError,
  isTensorInput,
  type DetectOptions,
  type DetectionResult,
  type Detector,
  type DetectorInfo,
  type DetectorInput,
  type FrameInput,
} from './detector.js';
import type { Region } from '../geometry/regions.js';
import { classicalPreset, type ClassRule, type ClassicalPreset } from './classical-presets.js';
import { medianBackground, openClose, otsu, robustSigma } from './morphology.js';
import { pixelOps } from './pixel-ops.js';
import { probabilityMap, regionToDetection } from './postprocess.js';

export class ClassicalDetector implements Detector {
  private closed = false;
  private readonly ops = pixelOps();

  constructor(
    readonly preset: ClassicalPreset,
    private readonly defaultPixelSizeUm: number | null = null,
    private readonly tileSize = 256,
  ) {}

  static forModel(name: string, pixelSizeUm: number | null, tileSize = 256): ClassicalDetector {
    return new ClassicalDetector(classicalPreset(name), pixelSizeUm, tileSize);
  }

  info(): DetectorInfo {
    return {
      name: `classical-${this.preset.name}`,
      version: '1.0.0',
      kind: 'classical',
      task: 'segmentation',
      classes: [...this.preset.classes],
      pixelSizeUm: this.defaultPixelSizeUm,
      provider: 'js',
      sha256: null,
      tileSize: this.tileSize,
      tileOverlap: 0,
    };
  }

  async detect(input: DetectorInput, opts: DetectOptions = {}): Promise<DetectionResult> {
    if (this.closed) throw detectorError(`detector classical-${this.preset.name} is closed`, { closed: true });
    checkInput(input);
    if (isTensorInput(input)) throw detectorError('the classical baseline takes frames (grey pixels), not tensors', { badInput: true });
    if (opts.signal?.aborted) throw detectorError('detect canceled', { canceled: true });
    return await this.run(input, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async run(f: FrameInput, opts: DetectOptions): Promise<DetectionResult> {
    const t0 = performance.now();
    const { width: w, height: h } = f;
    const n = w * h;
    const P = this.preset;
    const full = (1 << f.bitDepth) - 1;
    const img = new Float32Array(n);
    for (let i = 0; i < n; i++) img[i] = f.data[i]! / full;
    // Score: how strongly each pixel is foreground, scaled so 1 is the threshold.
    const score = new Float32Array(n);
    const polarity = new Int8Array(n);
    const seg = P.segment;
    if (seg.method === 'local') {
      const bg = medianBackground(img, w, h, seg.radiusPx);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = img[i]! - bg[i]!;
      const sigma = robustSigma(d);
      for (let i = 0; i < n; i++) {
        const z = d[i]! / sigma;
        const s = seg.polarity === 'dark' ? -z : seg.polarity === 'bright' ? z : Math.abs(z);
        score[i] = s / seg.k;
        polarity[i] = z < 0 ? -1 : 1;
      }
    } else {
      const t = otsu(img) + seg.offset;
      for (let i = 0; i < n; i++) {
        const v = seg.polarity === 'dark' ? (t - img[i]!) / Math.max(1e-3, t) : (img[i]! - t) / Math.max(1e-3, 1 - t);
        score[i] = 1 + v * 4;
        polarity[i] = seg.polarity === 'dark' ? -1 : 1;
      }
    }
    const thr = opts.threshold !== undefined ? opts.threshold * 2 : 1;
    let fg: Uint8Array = new Uint8Array(n);
    for (let i = 0; i < n; i++) fg[i] = score[i]! >= thr ? 1 : 0;
    fg = openClose(fg, w, h, P.openPx, P.closePx);
    const { labels, regions } = await this.ops.connectedComponents(fg, w, h, { connectivity: 8, values: score });
    const pixelSizeUm = f.pixelSizeUm ?? this.defaultPixelSizeUm ?? 1;
    const classMap = new Uint8Array(n);
    const instances = new Int32Array(n);
    const keep = new Int32Array(regions.length + 1);
    const classOf = new Int32Array(regions.length + 1);
    const found: Array<{ r: Region; cls: number; conf: number; max: number }> = [];
    for (const r of regions) {
      if (r.area < P.minAreaPx) continue;
      let pol = 0;
      // Polarity of the region: sign of the mean deviation, sampled along the contour's pixels and the centroid row.
      for (let i = 0; i < r.contour.length; i += 2) pol += polarity[r.contour[i + 1]! * w + r.contour[i]!]!;
      const cls = classify(P, r, pol < 0 ? 'dark' : 'bright');
      // Confidence: the mean score mapped to (0, 1); 0.5 at the threshold.
      const conf = 1 - Math.exp(-Math.max(0, r.meanValue) * Math.LN2);
      found.push({ r, cls, conf, max: 1 - Math.exp(-Math.max(0, r.maxValue) * Math.LN2) });
    }
    found.sort((a, b) => b.conf - a.conf || a.r.label - b.r.label);
    const detections = found.map((x, k) => {
      keep[x.r.label] = k + 1;
      classOf[x.r.label] = x.cls;
      return regionToDetection({ ...x.r, value: x.cls }, P.classes[x.cls]!, x.conf, x.max, pixelSizeUm, f.pixelToStage);
    });
    for (let i = 0; i < n; i++) {
      const l = labels[i]!;
      if (l === 0 || keep[l] === 0) continue;
      classMap[i] = classOf[l]!;
      instances[i] = keep[l]!;
    }
    const total = performance.now() - t0;
    const tiles = Math.max(1, Math.ceil(w / this.tileSize) * Math.ceil(h / this.tileSize));
    const result: DetectionResult = {
      detections,
      timing: { totalMs: total, inferenceMs: 0, preprocessMs: 0, postprocessMs: total, tiles, msPerTile: total / tiles },
      model: { name: `classical-${P.name}`, version: '1.0.0', sha256: null, kind: 'classical' },
    };
    if (opts.probabilityMap) {
      const maxSide = opts.probabilityMap === true ? 512 : opts.probabilityMap.maxSide;
      const prob = new Float32Array(n);
      for (let i = 0; i < n; i++) prob[i] = 1 - Math.exp(-Math.max(0, score[i]!) * Math.LN2);
      result.probability = probabilityMap(prob, w, h, maxSide);
    }
    if (opts.masks) result.masks = { classMap, instances, width: w, height: h };
    return result;
  }
}

function matches(rule: ClassRule, area: number, elong: number, fill: number, pol: 'dark' | 'bright'): boolean {
  if (rule.minAreaPx !== undefined && area < rule.minAreaPx) return false;
  if (rule.maxAreaPx !== undefined && area > rule.maxAreaPx) return false;
  if (rule.minElongation !== undefined && elong < rule.minElongation) return false;
  if (rule.maxElongation !== undefined && elong > rule.maxElongation) return false;
  if (rule.minFill !== undefined && fill < rule.minFill) return false;
  if (rule.maxFill !== undefined && fill > rule.maxFill) return false;
  if (rule.polarity !== undefined && rule.polarity !== pol) return false;
  return true;
}

function classify(P: ClassicalPreset, r: Region, pol: 'dark' | 'bright'): number {
  const elong = r.feretMaxPx / Math.max(1, r.feretMinPx);
  const fill = r.area / Math.max(1, r.feretMaxPx * r.feretMinPx);
  const rule = P.rules.find((x) => matches(x, r.area, elong, fill, pol)) ?? P.rules[P.rules.length - 1]!;
  const k = P.classes.indexOf(rule.className);
  return k > 0 ? k : 1;
}
