/**
 * The twin's optics and sensor: what a camera behind a given objective records of a sample.
 *
 * Chain per frame: reflectance of the field (sample) → diffraction blur (Gaussian approximation of the Airy disc,
 * σ = 0.21·λ/NA) combined with defocus blur (geometric blur circle of radius |Δz|·tan(asin NA), σ = radius/2) →
 * uneven illumination (radial vignetting and a linear gradient) → photoelectrons for the exposure → Poisson shot noise
 * and Gaussian read noise → ADU with offset, clipped and quantised to 8, 12 or 16 bits.
 */
import { gaussianBlur, motionBlur } from './blur.js';
import { Rng } from './rng.js';
import type { FieldView, Sample } from './sample.js';

export interface ObjectiveSpec {
  name: string;
  magnification: number;
  numericalAperture: number;
  /** Height of this objective's focal plane above the reference objective's for the same z position (µm). */
  parfocalOffsetUm: number;
  /** Where this objective's optical axis sits relative to the reference objective's, in stage µm. */
  centringOffsetUm: [number, number];
}

export interface SensorSpec {
  widthPx: number;
  heightPx: number;
  /** Physical pixel pitch on the sensor (µm). */
  pixelPitchUm: number;
  bitDepth: 8 | 12 | 16;
  fullWellE: number;
  readNoiseE: number;
  darkOffsetAdu: number;
}

export interface IlluminationSpec {
  /** Photoelectrons per pixel per millisecond of exposure at reflectance 1 in the centre of the field. */
  electronsPerMs: number;
  /** Relative intensity lost in the field corners (0 … 1). */
  vignetting: number;
  /** Linear intensity gradient across the field, relative change from centre to the right and bottom edges. */
  gradient: [number, number];
}

export const WAVELENGTH_UM = 0.55;

/** Pixel size at the sample (µm): sensor pitch over magnification (tube lens matched to the objective). */
export function pixelSizeUm(objective: ObjectiveSpec, sensor: SensorSpec): number {
  return sensor.pixelPitchUm / objective.magnification;
}

/** Field of view at the sample (µm). */
export function fieldOfViewUm(objective: ObjectiveSpec, sensor: SensorSpec): [number, number] {
  const p = pixelSizeUm(objective, sensor);
  return [sensor.widthPx * p, sensor.heightPx * p];
}

/** Diffraction-limited blur σ (µm). */
export function diffractionSigmaUm(objective: ObjectiveSpec): number {
  return (0.21 * WAVELENGTH_UM) / objective.numericalAperture;
}

/** Defocus blur σ (µm) for a focal plane |Δz| away from the surface. */
export function defocusSigmaUm(objective: ObjectiveSpec, deltaZUm: number): number {
  const na = Math.min(0.95, objective.numericalAperture);
  return (Math.abs(deltaZUm) * Math.tan(Math.asin(na))) / 2;
}

/** Depth of field (µm), λ/NA² + the sensor-pixel term: the focus tolerance autofocus must reach. */
export function depthOfFieldUm(objective: ObjectiveSpec, sensor: SensorSpec): number {
  const na = objective.numericalAperture;
  return WAVELENGTH_UM / (na * na) + (pixelSizeUm(objective, sensor) * 1) / na;
}

export interface RenderRequest {
  sample: Sample;
  objective: ObjectiveSpec;
  sensor: SensorSpec;
  illumination: IlluminationSpec;
  /** Sample position at the centre of the field (µm). */
  centreXUm: number;
  centreYUm: number;
  /** Height of the focal plane in the sample's height frame (µm). */
  focalPlaneUm: number;
  /** Camera rotation relative to the sample axes (radians) and mirror. */
  rotationRad: number;
  flipX: boolean;
  exposureMs: number;
  /** Analogue gain (dB) applied before quantisation. */
  gainDb: number;
  /** Seeds the sensor noise (e.g. from the frame sequence number): same seed, same pixels. */
  noiseSeed: number;
  /** Stage displacement during the exposure, in sample µm (motion blur), if any. */
  motionUm?: [number, number];
  /** Region of interest on the sensor (default: the whole sensor). */
  roi?: { x: number; y: number; width: number; height: number };
}

export interface RenderScratch {
  refl?: Float32Array;
  tmp?: Float32Array;
  mask?: Uint8Array;
}

export interface RenderInfo {
  width: number;
  height: number;
  pixelSizeUm: number;
  blurSigmaPx: number;
  defocusUm: number;
}

/** Largest blur the renderer applies (px): beyond it a field is featureless anyway, and the margin stays bounded. */
const MAX_SIGMA_PX = 48;

/**
 * Renders one frame into `out` (width·height pixels, row-major; Uint8Array for 8-bit sensors, Uint16Array otherwise,
 * values LSB-aligned) and, when `maskOut` is given, the class of every pixel (ground truth, no blur or noise).
 */
export function renderFrame(req: RenderRequest, out: Uint8Array | Uint16Array, maskOut?: Uint8Array, scratch: RenderScratch = {}): RenderInfo {
  const { sensor, objective } = req;
  const roi = req.roi ?? { x: 0, y: 0, width: sensor.widthPx, height: sensor.heightPx };
  const w = roi.width;
  const h = roi.height;
  if (out.length < w * h) throw new RangeError(`frame buffer holds ${out.length} pixels but the frame needs ${w * h}`);
  if (sensor.bitDepth === 8 ? !(out instanceof Uint8Array) : !(out instanceof Uint16Array)) {
    throw new TypeError(`Expected a ${sensor.bitDepth === 8 ? 'Uint8Array' : 'Uint16Array'} for a ${sensor.bitDepth}-bit frame`);
  }
  const p = pixelSizeUm(objective, sensor);
  const defocus = req.focalPlaneUm - req.sample.surfaceHeightUm(req.centreXUm, req.centreYUm);
  const sUm = Math.hypot(diffractionSigmaUm(objective), defocusSigmaUm(objective, defocus));
  const sigma = Math.min(MAX_SIGMA_PX, sUm / p);
  const motionPx = req.motionUm ? Math.hypot(req.motionUm[0], req.motionUm[1]) / p : 0;
  const margin = Math.ceil(3 * sigma + motionPx / 2) + 2;
  const W = w + 2 * margin;
  const H = h + 2 * margin;

  // The ROI's centre, relative to the sensor centre, in sensor pixels.
  const offC = roi.x + w / 2 - sensor.widthPx / 2;
  const offR = roi.y + h / 2 - sensor.heightPx / 2;
  const cos = Math.cos(req.rotationRad);
  const sin = Math.sin(req.rotationRad);
  const fx = req.flipX ? -1 : 1;
  const view: FieldView = {
    centreXUm: req.centreXUm + (cos * fx * offC - sin * offR) * p,
    centreYUm: req.centreYUm + (sin * fx * offC + cos * offR) * p,
    pixelSizeUm: p,
    width: W,
    height: H,
    rotationRad: req.rotationRad,
    flipX: req.flipX,
  };
  // Scratch buffers are kept for the next frame of the same size (a 2048² frame's float buffers are 17 MB each).
  if (!scratch.refl || scratch.refl.length < W * H) scratch.refl = new Float32Array(W * H);
  if (maskOut && (!scratch.mask || scratch.mask.length < W * H)) scratch.mask = new Uint8Array(W * H);
  const refl = scratch.refl;
  const bigMask = maskOut ? scratch.mask : undefined;
  req.sample.renderReflectance(view, refl, bigMask);
  if (!scratch.tmp || scratch.tmp.length < W * H) scratch.tmp = new Float32Array(W * H);
  const tmp = scratch.tmp;
  gaussianBlur(refl, W, H, sigma, tmp);
  if (req.motionUm && motionPx >= 1) {
    // Motion in sample axes → image axes (inverse rotation / mirror); blur along the dominant image axis.
    const [mx, my] = req.motionUm;
    const mc = (cos * mx + sin * my) * fx;
    const mr = -sin * mx + cos * my;
    motionBlur(refl, W, H, motionPx, Math.abs(mc) >= Math.abs(mr));
  }

  const maxAdu = (1 << sensor.bitDepth) - 1;
  const gain = ((maxAdu - sensor.darkOffsetAdu) / sensor.fullWellE) * Math.pow(10, req.gainDb / 20);
  const e0 = req.illumination.electronsPerMs * req.exposureMs;
  const [gx, gy] = req.illumination.gradient;
  const vig = req.illumination.vignetting;
  const halfW = sensor.widthPx / 2;
  const halfH = sensor.heightPx / 2;
  const rng = new Rng(req.noiseSeed, 7);
  // Per-pixel deviates come from a fixed table of 65 536 standard normals indexed by a xorshift stream seeded per
  // frame: five times cheaper than drawing them, and indistinguishable in a frame's noise statistics.
  const normals = normalTable();
  let xs = rng.nextU32() | 1;
  const read2 = sensor.readNoiseE * sensor.readNoiseE;
  const fw = sensor.fullWellE;
  for (let r = 0; r < h; r++) {
    const v = (roi.y + r + 0.5 - halfH) / halfH;
    const src = (r + margin) * W + margin;
    const dst = r * w;
    for (let c = 0; c < w; c++) {
      const u = (roi.x + c + 0.5 - halfW) / halfW;
      const illum = (1 - (vig * (u * u + v * v)) / 2) * (1 + gx * u + gy * v);
      const lambda = Math.max(0, refl[src + c]! * illum * e0);
      xs ^= xs << 13;
      xs ^= xs >>> 17;
      xs ^= xs << 5;
      const z = normals[xs & 0xffff]!;
      let e = lambda < 30 ? rng.poisson(lambda) + sensor.readNoiseE * z : lambda + Math.sqrt(lambda + read2) * z;
      if (e > fw) e = fw;
      let adu = Math.round(sensor.darkOffsetAdu + e * gain);
      adu = adu < 0 ? 0 : adu > maxAdu ? maxAdu : adu;
      out[dst + c] = adu;
    }
  }
  if (maskOut && bigMask) {
    if (maskOut.length < w * h) throw new RangeError(`mask buffer holds ${maskOut.length} pixels but the frame needs ${w * h}`);
    for (let r = 0; r < h; r++) {
      maskOut.set(bigMask.subarray((r + margin) * W + margin, (r + margin) * W + margin + w), r * w);
    }
  }
  return { width: w, height: h, pixelSizeUm: p, blurSigmaPx: sigma, defocusUm: defocus };
}

let NORMALS: Float32Array | null = null;
function normalTable(): Float32Array {
  if (!NORMALS) {
    const r = new Rng(0x6e6f6973, 1);
    NORMALS = new Float32Array(65536);
    for (let i = 0; i < NORMALS.length; i++) NORMALS[i] = r.normal();
  }
  return NORMALS;
}
