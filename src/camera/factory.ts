/**
 * Builds the configured camera. The composition root calls this with the `camera` config section; for
 * `kind: twin` it also hands over the twin's camera builder (src/sim/twin-frame-source.ts twinCameraBuilder), so
 * this area never depends on the twin.
 */
import type { Clock } from '../kernel/clock.js';
import { ConfigError } from '../kernel/validate.js';
import type { CameraConfig } from './config.js';
import type { FrameSource } from './frame-source.js';
import { GenicamFrameSource } from './genicam-source.js';
import { V4l2FrameSource } from './v4l2-source.js';

/** What the `camera` section asks of a twin camera. */
export interface TwinCameraRequest {
  poolSize: number;
  queueDepth: number;
  exposureUs: number;
  gainDb: number;
  defaultTimeoutMs: number;
  readoutMs: number;
  /** Render into the addon's frame pool when it is built. */
  native: boolean;
}

/** Builds the twin's camera; supplied by the composition root when it runs the twin. */
export type TwinCameraBuilder = (request: TwinCameraRequest) => FrameSource;

export function createFrameSource(cfg: CameraConfig, deps: { clock: Clock; twin?: TwinCameraBuilder; source?: string }): FrameSource {
  if (cfg.queueDepth >= cfg.poolSize) {
    throw new ConfigError(deps.source ?? 'config', [
      { path: 'camera.queueDepth', value: cfg.queueDepth, expected: `less than camera.poolSize (${cfg.poolSize}): a grab needs a free buffer` },
    ]);
  }
  const common = {
    poolSize: cfg.poolSize,
    queueDepth: cfg.queueDepth,
    exposureUs: cfg.exposureUs,
    gainDb: cfg.gainDb,
    clock: deps.clock,
    defaultTimeoutMs: cfg.grabTimeoutMs,
  };
  switch (cfg.kind) {
    case 'twin': {
      if (!deps.twin) throw new Error('camera.kind is "twin" but no twin was built');
      const { clock: _clock, ...rest } = common;
      return deps.twin({ ...rest, readoutMs: cfg.twin.readoutMs, native: cfg.twin.nativePool });
    }
    case 'genicam':
      return new GenicamFrameSource({ ...definedOnly(cfg.genicam), ...common });
    case 'v4l2':
      return new V4l2FrameSource({ ...definedOnly(cfg.v4l2), ...common });
  }
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
