import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { SimClock } from '../../src/kernel/clock.js';
import { createTwin } from '../../src/sim/twin.js';
import { TwinCamera } from '../../src/sim/twin-camera.js';
import { createTwinFrameSource } from '../../src/sim/twin-frame-source.js';
import { PushFrameSource } from '../../src/camera/push-source.js';
import { frameSourceContract } from '../contracts/frame-source.contract.js';

async function smallTwin() {
  const cfg = parseConfig({
    twin: { seed: 5, sample: { widthUm: 3000, heightUm: 3000 }, sensor: { widthPx: 160, heightPx: 120 } },
  });
  return createTwin(cfg.twin, { clock: new SimClock(new Date('2026-01-01T00:00:00Z')) });
}

frameSourceContract('twin camera, JS buffer ring', async () => {
  const t = await smallTwin();
  return { source: t.camera, clock: t.clock, poolSize: 4, cleanup: () => t.camera.close() };
});

frameSourceContract('twin camera rendering into the native pool (push source)', async () => {
  const t = await smallTwin();
  const source = createTwinFrameSource(t.world, t.clock, { poolSize: 4, defaultTimeoutMs: 5000 });
  return { source, clock: t.clock, poolSize: 4, cleanup: () => source.close() };
});

describe('twin camera through the push source', () => {
  it('is the native push source when the addon is built, the JS ring otherwise', async () => {
    const t = await smallTwin();
    expect(createTwinFrameSource(t.world, t.clock)).toBeInstanceOf(PushFrameSource);
    expect(createTwinFrameSource(t.world, t.clock, { native: false })).toBeInstanceOf(TwinCamera);
  });

  it('renders the same image as the JS twin, into pool memory, and follows its region of interest', async () => {
    const a = await smallTwin();
    const b = await smallTwin();
    const js = a.camera;
    const pushed = createTwinFrameSource(b.world, b.clock) as PushFrameSource;
    await js.open();
    await pushed.open();
    const f1 = await js.grab();
    const f2 = await pushed.grab();
    expect(Array.from(f2.data)).toEqual(Array.from(f1.data));
    expect([f2.sequence, f2.exposureStartMs, f2.exposureEndMs]).toEqual([f1.sequence, f1.exposureStartMs, f1.exposureEndMs]);
    expect(pushed.ownsMemory(f2.data)).toBe(true);
    f2.release();
    expect(f2.data.length).toBe(0); // detached: the pool owns the memory again
    await pushed.setRoi({ x: 10, y: 20, width: 64, height: 48 });
    expect([pushed.info().width, pushed.info().height]).toEqual([64, 48]);
    const roi = await pushed.grab();
    expect([roi.width, roi.height, roi.data.length]).toEqual([64, 48, 64 * 48]);
    roi.release();
    f1.release();
    await pushed.close();
  });
});
