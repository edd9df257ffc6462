import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { GenicamFrameSource, genicamAvailable } from '../../src/camera/genicam-source.js';
import { frameSourceContract } from '../contracts/frame-source.contract.js';

// Aravis' in-process fake camera ("Fake_<serial>"): the whole GenICam path (features, stream, buffers, trigger)
// without a network. The backend is compiled in wherever pkg-config finds Aravis (scripts/bootstrap installs it).
const built = genicamAvailable();
const withAravis = built
  ? frameSourceContract
  : (name: string) => describe.skip(`FrameSource contract: ${name} (addon built without Aravis)`, () => it('skipped', () => undefined));

withAravis('GenICam: Aravis in-process fake camera', async () => {
  const source = new GenicamFrameSource({ id: 'Fake_CONTRACT', pixelFormat: 'Mono16', width: 320, height: 240, poolSize: 3, exposureUs: 2000 });
  return { source, clock: new RealClock(), poolSize: 3, cleanup: () => source.close() };
});

describe('GenICam backend build', () => {
  it('is compiled in exactly when pkg-config finds aravis-0.8', () => {
    expect(built).toBe(spawnSync('pkg-config', ['--exists', 'aravis-0.8']).status === 0);
  });
});

describe.skipIf(!built)('GenICam source on the fake camera', () => {
  it('delivers the camera’s own buffers, detached after release, with stream counters', async () => {
    const source = new GenicamFrameSource({ id: 'Fake_ZC', pixelFormat: 'Mono8', width: 64, height: 48, poolSize: 2, queueDepth: 1 });
    await source.open();
    expect(source.deviceInfo()).toMatchObject({ transport: 'fake', vendor: 'Aravis', serial: 'ZC', zeroCopy: true, width: 64, height: 48, sensorWidth: 2048 });
    const f = await source.grab({ timeoutMs: 5000 });
    expect(source.ownsMemory(f.data)).toBe(true);
    f.release();
    expect(f.data.length).toBe(0);
    const stats = source.stats();
    expect(stats['stream.n_completed_buffers']).toBeGreaterThanOrEqual(1);
    expect(stats.underruns).toBe(0);
    await source.close();
  });

  it('reads out a region of interest and the full sensor again', async () => {
    const source = new GenicamFrameSource({ id: 'Fake_ROI', pixelFormat: 'Mono8', width: 128, height: 96 });
    await source.open();
    await source.setRoi({ x: 16, y: 8, width: 64, height: 32 });
    const f = await source.grab({ timeoutMs: 5000 });
    expect([f.width, f.height, f.data.length]).toEqual([64, 32, 64 * 32]);
    f.release();
    await source.setRoi(null);
    expect([source.info().width, source.info().height]).toEqual([2048, 2048]);
    await source.close();
  });

  it('in free-run takes the first frame exposed after the call and counts the frames nobody took', async () => {
    const source = new GenicamFrameSource({
      id: 'Fake_FR',
      pixelFormat: 'Mono8',
      width: 64,
      height: 64,
      trigger: 'free-run',
      frameRate: 200,
      exposureUs: 1000,
    });
    await source.open();
    await new Promise((r) => setTimeout(r, 100));
    const before = new RealClock();
    const t = before.now();
    const f = await source.grab({ timeoutMs: 5000 });
    expect(f.exposureStartMs).toBeGreaterThanOrEqual(t);
    f.release();
    expect(source.counters().dropped).toBeGreaterThan(0);
    await source.close();
  });

  it('names the camera it cannot open', async () => {
    const source = new GenicamFrameSource({ id: 'Fake_BAD', pixelFormat: 'Mono12' });
    const err = await source.open().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^GenICam Fake_BAD: PixelFormat Mono12 refused: /);
    expect(err?.stack).toContain('genicam-fake.contract.test.ts');
    expect(source.state).toBe('closed');
  });
});
