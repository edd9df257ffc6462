import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { SimClock, RealClock } from '../../src/kernel/clock.js';
import { createTwin } from '../../src/sim/twin.js';
import { twinCameraBuilder } from '../../src/sim/twin-frame-source.js';
import { createFrameSource } from '../../src/camera/factory.js';
import { GenicamFrameSource } from '../../src/camera/genicam-source.js';
import { PushFrameSource } from '../../src/camera/push-source.js';
import { TwinCamera } from '../../src/sim/twin-camera.js';

describe('camera config and factory', () => {
  it('defaults to the twin rendering into the native pool', async () => {
    const cfg = parseConfig({ twin: { sensor: { widthPx: 64, heightPx: 48 }, sample: { widthUm: 1000, heightUm: 1000 } } });
    expect(cfg.camera).toMatchObject({
      kind: 'twin',
      poolSize: 4,
      queueDepth: 2,
      exposureUs: 2000,
      grabTimeoutMs: 5000,
      twin: { nativePool: true, readoutMs: 10 },
    });
    const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
    const twin = await createTwin(cfg.twin, { clock });
    const source = createFrameSource(cfg.camera, { clock, twin: twinCameraBuilder(twin.world, clock) });
    expect(source).toBeInstanceOf(PushFrameSource);
    await source.open();
    const f = await source.grab();
    expect([f.width, f.height, f.exposureUs]).toEqual([64, 48, 2000]);
    f.release();
    await source.close();
    const js = createFrameSource({ ...cfg.camera, twin: { ...cfg.camera.twin, nativePool: false } }, { clock, twin: twinCameraBuilder(twin.world, clock) });
    expect(js).toBeInstanceOf(TwinCamera);
  });

  it('builds a GenICam camera from its section', async () => {
    const cfg = parseConfig({ camera: { kind: 'genicam', exposureUs: 3000, genicam: { id: 'Fake_CFG', pixelFormat: 'Mono8', width: 32, height: 16 } } });
    const source = createFrameSource(cfg.camera, { clock: new RealClock() });
    expect(source).toBeInstanceOf(GenicamFrameSource);
    await source.open();
    expect(source.info()).toMatchObject({ kind: 'genicam', width: 32, height: 16, pixelFormat: 'Mono8', exposureUs: 3000 });
    const f = await source.grab();
    expect(f.data.length).toBe(32 * 16);
    f.release();
    await source.close();
  });

  it('names the field and value of a bad setting', () => {
    expect(() => parseConfig({ camera: { genicam: { trigger: 'auto' } } }, 'scope.yaml')).toThrow(
      /scope\.yaml: 1 problem\n {2}- camera\.genicam\.trigger: "auto" — expected one of "software", "hardware", "free-run"/,
    );
    const cfg = parseConfig({ camera: { poolSize: 3, queueDepth: 3 } });
    expect(() => createFrameSource(cfg.camera, { clock: new RealClock(), source: 'scope.yaml' })).toThrow(
      'scope.yaml: 1 problem\n  - camera.queueDepth: 3 — expected less than camera.poolSize (3): a grab needs a free buffer',
    );
  });
});
