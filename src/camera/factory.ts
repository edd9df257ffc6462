/**
 * Builds the configured camera. The composition root calls this with the `camera` config section; the twin needs the
 * twin's world (src/sim/twin.ts createTwin) and clock.
 */
import type { Clock } from '../kernel/clock.js';
import { ConfigError } from '../kernel/validate.js';
import type { TwinWorld } from '../sim/world.js';
import type { CameraConfig } from './config.js';
import type { FrameSource } from './frame-source.js';
import { GenicamFrameSource } from './genicam-source.js';
import { createTwinFrameSource } from './twin-frame-source.js';
import { V4l2FrameSource } from './v4l2-source.js';

export function createFrameSource(cfg: CameraConfig, deps: { clock: Clock; world?: TwinWorld; source?: string }): FrameSource {
  if (cfg.queueDepth >= cfg.poolSize) {
    throw new ConfigError(deps.source ?? 'config', [
      { path: 'camera.queueDepth', value: cfg.queueDepth, expected: `less than camera.poolSize (${cfg.poolSize}): a grab needs a free buffer` },
    ]);
  }
  const common = { poolSize: cfg.poolSize, queueDepth: cfg.queueDepth, exposureUs: cfg.exposureUs, gainDb: cfg.gainDb, clock: deps.clock, defaultTimeoutMs: cfg.grabTimeoutMs };
  switch (cfg.kind) {
    case 'twin': {
      if (!deps.world) throw new Error('camera.kind is "twin" but no twin world was built');
      const { clock, ...rest } = common;
      return createTwinFrameSource(deps.world, clock, { ...rest, readoutMs: cfg.twin.readoutMs, native: cfg.twin.nativePool });
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
