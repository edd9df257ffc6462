/**
 * The twin's camera as the composition root should build it: rendering straight into the addon's frame pool through
 * the push source, so frames reach pixel work and inference exactly as a GenICam camera's would (same pool, queue,
 * Frame objects and counters). Where the addon is not built, the twin's own JS buffer ring is the fallback.
 */
import type { Clock } from '../kernel/clock.js';
import { hasNativeAddon } from '../native/binding.js';
import { TwinCamera, type TwinCameraOptions } from './twin-camera.js';
import type { TwinWorld } from './world.js';
import type { TwinCameraBuilder } from '../camera/factory.js';
import type { FrameSource } from '../camera/frame-source.js';
import { PushFrameSource } from '../camera/push-source.js';

export interface TwinFrameSourceOptions extends Omit<TwinCameraOptions, 'pool'> {
  /** Use the native pool when the addon is built (default true). */
  native?: boolean;
  queueDepth?: number;
  /**
   * Real-time grab limit when GrabOptions.timeoutMs is not given (ms). Default 60 000: a twin frame is rendered on
   * this machine's CPU (about 0.7 s for 2048² on an idle core, several times that on a loaded one), so the 5 s that
   * tells a dead hardware camera would fail healthy twin scans on a busy machine.
   */
  defaultTimeoutMs?: number;
}

export function createTwinFrameSource(world: TwinWorld, clock: Clock, opts: TwinFrameSourceOptions = {}): FrameSource {
  const { native = true, queueDepth, defaultTimeoutMs = 60_000, ...cameraOpts } = opts;
  const twin = new TwinCamera(world, clock, cameraOpts);
  if (!native || !hasNativeAddon()) return twin;
  const s = world.spec.sensor;
  return new PushFrameSource({
    id: twin.id,
    kind: 'twin',
    width: s.widthPx,
    height: s.heightPx,
    pixelFormat: s.bitDepth === 8 ? 'Mono8' : s.bitDepth === 12 ? 'Mono12' : 'Mono16',
    poolSize: opts.poolSize ?? 4,
    ...(queueDepth !== undefined ? { queueDepth } : {}),
    defaultTimeoutMs,
    exposureUs: twin.info().exposureUs,
    gainDb: twin.info().gainDb,
    producer: twin,
    clock,
  });
}

/** The twin's camera as the camera factory builds it for `camera.kind: twin`. */
export function twinCameraBuilder(world: TwinWorld, clock: Clock): TwinCameraBuilder {
  return (request) => createTwinFrameSource(world, clock, request);
}
