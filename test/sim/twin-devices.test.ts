import { describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { createTwin } from '../../src/sim/twin.js';
import { moveDurationS } from '../../src/sim/stage-physics.js';

async function smallTwin() {
  const cfg = parseConfig({
    twin: {
      seed: 3,
      sample: { widthUm: 4000, heightUm: 4000, defectDensity: 0.01 },
      sensor: { widthPx: 256, heightPx: 256 },
      stage: { settleMs: 40 },
    },
  });
  return createTwin(cfg.twin, { clock: new SimClock(new Date('2026-01-01T00:00:00Z')) });
}

describe('twin devices', () => {
  it('moves the stage in instrument time given by the closed-form motion profile plus settle', async () => {
    const t = await smallTwin();
    await t.directStage.connect();
    const start = t.clock.now();
    const p = await t.directStage.moveTo({ x: 30_000 });
    expect(p.x).toBeCloseTo(30_000, 6);
    const spec = t.world.spec.stage;
    expect((t.clock.now() - start) / 1000).toBeCloseTo(moveDurationS(30_000, spec.x.maxSpeedUmPerS, spec.x.accelUmPerS2) + spec.settleMs / 1000, 2);
  });

  it('refuses a move beyond the soft limits before moving, naming axis, target and limit', async () => {
    const t = await smallTwin();
    await t.directStage.connect();
    await expect(t.directStage.moveTo({ z: 900 })).rejects.toThrow('stage axis z: target 900 µm is above the soft limit 500 µm');
    expect((await t.directStage.position()).z).toBe(0);
  });

  it('grabs a frame exposed after the call, from the objective in place, at the stage position', async () => {
    const t = await smallTwin();
    await t.directStage.connect();
    await t.camera.open();
    const d = t.sample.defects()[0]!;
    const [sx, sy] = t.world.sampleToStage(d.xUm, d.yUm);
    await t.directStage.moveTo({ x: sx, y: sy, z: t.world.focusZ(d.xUm, d.yUm) });
    const before = t.clock.now();
    const f = await t.camera.grab();
    expect(f.exposureStartMs).toBeGreaterThanOrEqual(before);
    expect(f.exposureEndMs - f.exposureStartMs).toBeCloseTo(f.exposureUs / 1000, 6);
    expect([f.width, f.height, f.bitDepth, f.pixelFormat]).toEqual([256, 256, 12, 'Mono12']);
    expect(Math.max(...f.data)).toBeLessThan(4096);
    f.release();
    f.release();
    await t.nosepiece.select('50x');
    expect(t.nosepiece.current()).toBe('50x');
    await expect(t.nosepiece.select('100x')).rejects.toThrow('unknown objective "100x"; the turret holds 5x, 50x');
  });

  it('reports pool exhaustion instead of queueing without bound, and recovers on release', async () => {
    const t = await smallTwin();
    await t.camera.open();
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await t.camera.grab());
    await expect(t.camera.grab()).rejects.toMatchObject({ timeout: true });
    expect(t.camera.counters().dropped).toBe(1);
    held[0]!.release();
    const f = await t.camera.grab();
    f.release();
    for (const h of held.slice(1)) h.release();
    expect(t.camera.counters().delivered).toBe(5);
  });

  it('cancels a grab when its signal aborts, and reports closed', async () => {
    const t = await smallTwin();
    await t.camera.open();
    await expect(t.camera.grab({ signal: AbortSignal.abort() })).rejects.toMatchObject({ canceled: true });
    await t.camera.close();
    await expect(t.camera.grab()).rejects.toThrow('camera twin-camera is closed');
  });

  it('blurs frames exposed while the stage moves', async () => {
    const t = await smallTwin();
    await t.directStage.connect();
    await t.camera.open();
    await t.camera.setExposure(1500);
    const [sx, sy] = t.world.sampleToStage(2000, 2000);
    await t.directStage.moveTo({ x: sx, y: sy, z: t.world.focusZ(2000, 2000) });
    const still = await t.camera.grab();
    const sharpness = (d: Uint16Array | Uint8Array): number => {
      let s = 0;
      for (let i = 1; i < d.length; i++) s += Math.abs(d[i]! - d[i - 1]!);
      return s;
    };
    const a = sharpness(still.data);
    still.release();
    const move = t.directStage.moveTo({ x: sx + 3000 });
    await t.clock.sleep(60);
    const moving = await t.camera.grab();
    const b = sharpness(moving.data);
    moving.release();
    await move;
    expect(b).toBeLessThan(a * 0.8);
  });
});
