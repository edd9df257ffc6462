/**
 * Config section `inference`: which model bundles serve the survey and the zoom, how they run (execution providers,
 * threads, tiling) and the thresholds that override the bundles' own.
 */
import { arr, bool, int, num, obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';
import type { ProviderName } from './providers.js';

/** A bundle name (a folder under modelsDir) or a path to a bundle folder: anything with a "/", e.g. ./my-zoom or /srv/b. */
export const BUNDLE_REF = '^(?:[a-z0-9][a-z0-9_-]{0,63}|[^\\u0000]*/[^\\u0000]*)$';

export const inferenceSchema: Schema = obj('Defect models: which bundles run, on what, and how frames are tiled.', {
  modelsDir: str('Folder of model bundles (<modelsDir>/<name>/manifest.json). Empty: the models/ folder shipped with the product.', ''),
  survey: str(
    'Bundle that marks suspicious regions on survey frames: a bundle name under modelsDir, or the path of a bundle folder (any value with a /).',
    'survey',
    { pattern: BUNDLE_REF },
  ),
  zoom: str(
    'Bundle that segments and classifies defects on zoom frames: a bundle name under modelsDir, or the path of a bundle folder (any value with a /).',
    'zoom',
    { pattern: BUNDLE_REF },
  ),
  providers: arr(
    'Execution providers in order of preference; the first that loads runs the model, the log names it.',
    { type: 'string', enum: ['tensorrt', 'cuda', 'cpu'] },
    { minItems: 1, uniqueItems: true, default: ['cpu'] },
  ),
  intraOpThreads: int('Threads ORT uses inside one inference (per model).', 2, 1, 64),
  tileOverlap: int('Overlap between neighbouring tiles; probabilities are blended across it.', 32, 0, 1024, 'px'),
  maxQueued: int('Frames that may wait for a busy model; more are refused and counted.', 4, 1, 256),
  warmup: bool('Run one tile through each model when it loads, before it serves.', true),
  probabilityMapMaxSide: int('Largest side of the probability map returned for heatmap thumbnails.', 512, 16, 8192, 'px'),
  thresholds: obj('Foreground thresholds overriding the bundles’ own (left out: the bundle’s).', {
    survey: num('Survey: P(defect) at or above which a pixel is suspicious.', undefined, 0, 1),
    zoom: num('Zoom: P(not background) at or above which a pixel is a defect.', undefined, 0, 1),
  }),
  tensorRt: obj('TensorRT engine cache (used only when tensorrt is among the providers).', {
    cacheDir: str('Folder of cached engines, keyed by model sha256, GPU, TensorRT version and precision.', '/var/lib/smartscope/trt-cache'),
    precision: oneOf('Engine precision.', ['fp16', 'fp32'] as const, 'fp16'),
  }),
});

export interface InferenceConfig {
  modelsDir: string;
  survey: string;
  zoom: string;
  providers: ProviderName[];
  intraOpThreads: number;
  tileOverlap: number;
  maxQueued: number;
  warmup: boolean;
  probabilityMapMaxSide: number;
  thresholds: { survey?: number; zoom?: number };
  tensorRt: { cacheDir: string; precision: 'fp16' | 'fp32' };
}
