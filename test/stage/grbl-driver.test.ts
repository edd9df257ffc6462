// GRBL driver specifics beyond the contract: jogging, inch and work-coordinate reports, a controller error on a move.
import { afterEach, describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import type { GrblStage } from '../../src/stage/grbl/driver.js';
import { grblSim, makeRig, nextState, outcome, type TestRig } from '../support/stage-rigs.js';

let rig: TestRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

async function grbl(opts: Parameters<typeof makeRig>[2] = {}): Promise<{ r: TestRig; stage: GrblStage }> {
  rig = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), opts);
  await rig.stage.connect();
  return { r: rig, stage: rig.stage as unknown as GrblStage };
}

describe('GRBL driver', () => {
  it('jogs with $J= and lands where it was sent', async () => {
    const { r, stage } = await grbl();
    const p = await stage.jog({ x: 2000, y: 500 }, { feedUmPerS: 5000 });
    expect(p.x).toBeCloseTo(2000, 6);
    expect(p.y).toBeCloseTo(500, 6);
    expect(grblSim(r).received).toContain('$J=G21G91X2Y0.5F300');
    await expect(stage.jog({ x: -5000 }, { feedUmPerS: 5000 })).rejects.toThrow('stage axis x: target -3000 µm is below the soft limit 0 µm');
  });

  it('an aborted jog is cancelled and stops short, position known', async () => {
    const { r, stage } = await grbl();
    const ac = new AbortController();
    const moving = nextState(stage, 'moving');
    const jog = outcome(stage.jog({ x: 50_000 }, { feedUmPerS: 10_000, signal: ac.signal }));
    await moving;
    await r.clock.sleep(500);
    ac.abort();
    const res = await jog;
    expect(res.error?.canceled).toBe(true);
    const p = await stage.position();
    expect(p.x).toBeGreaterThan(1000);
    expect(p.x).toBeLessThan(50_000);
    expect(r.physics.isMoving(r.clock.now())).toBe(false);
    expect(stage.state).toBe('idle');
  });

  it('reads positions reported in inches ($13=1) and as work positions with an offset ($10=0)', async () => {
    const { r, stage } = await grbl();
    // Machine space is −100…0 mm: stage 23 800 µm is machine −76.2 mm, exactly −3 inches.
    await stage.moveTo({ x: 23_800, y: 1000 });
    grblSim(r).settings.set(13, '1');
    grblSim(r).settings.set(10, '0');
    await stage.close();
    await stage.connect();
    const p = await stage.position();
    expect(p.x).toBeCloseTo(23_800, 6);
    // Inch reports carry 4 decimals: 2.54 µm steps.
    expect(Math.abs(p.y - 1000)).toBeLessThanOrEqual(1.27);
    expect((await stage.moveTo({ x: 49_200 })).x).toBeCloseTo(49_200, 1);
  });

  it('a command the controller refuses fails with its error code and meaning', async () => {
    const { r, stage } = await grbl();
    grblSim(r).settings.set(22, '0');
    const e = await outcome(stage.home());
    expect(e.error).toMatchObject({
      code: 'CONTROLLER_ERROR',
      firmwareCode: 'error:5',
      message: 'GRBL error:5 (homing is not enabled in the settings ($22)) for "$H"',
    });
    expect(stage.state).toBe('idle');
  });
});
