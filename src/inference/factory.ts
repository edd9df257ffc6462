/**
 * Factories for the composition root: the survey and zoom detectors from the `inference` config section, and the
 * classical baseline that stands beside any bundle.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../kernel/logger.js';
import { ClassicalDetector } from './classical-detector.js';
import type { InferenceConfig } from './config.js';
import { readManifest, shippedModelsDir } from './manifest.js';
import { OnnxDetector } from './onnx-detector.js';

export type DetectorRole = 'survey' | 'zoom';

export function modelsDir(cfg: Pick<InferenceConfig, 'modelsDir'>): string {
  return cfg.modelsDir ? resolve(cfg.modelsDir) : shippedModelsDir();
}

/** A bundle folder from a name (under the models folder) or a path. */
export function bundleDir(cfg: Pick<InferenceConfig, 'modelsDir'>, nameOrPath: string): string {
  if (isAbsolute(nameOrPath) || nameOrPath.includes('/')) return resolve(nameOrPath);
  return join(modelsDir(cfg), nameOrPath);
}

export function openDetector(cfg: InferenceConfig, role: DetectorRole, logger?: Logger): Promise<OnnxDetector> {
  return OnnxDetector.open({
    bundleDir: bundleDir(cfg, cfg[role]),
    providers: cfg.providers,
    intraOpThreads: cfg.intraOpThreads,
    tileOverlap: cfg.tileOverlap,
    threshold: cfg.thresholds[role],
    maxQueued: cfg.maxQueued,
    warmup: cfg.warmup,
    tensorRt: cfg.tensorRt,
    logger,
  });
}

/** The classical baseline for a bundle: same classes, same pixel size, scored the same way. */
export function baselineFor(dir: string): ClassicalDetector {
  const m = readManifest(dir);
  return ClassicalDetector.forModel(m.name, m.pixelSizeUm, m.input.tileSize);
}
