import { describe, expect, it } from 'vitest';
import { moveDurationS, StageLimitError, StagePhysics, type StagePhysicsSpec } from '../../src/sim/stage-physics.js';

const spec: StagePhysicsSpec = {
  x: { minUm: 0, maxUm: 100_000, maxSpeedUmPerS: 20_000, accelUmPerS2: 100_000, backlashUm: 2 },
  y: { minUm: 0, maxUm: 100_000, maxSpeedUmPerS: 10_000, accelUmPerS2: 50_000, backlashUm: 0 },
  z: { minUm: -500, maxUm: 500, maxSpeedUmPerS: 2000, accelUmPerS2: 20_000, backlashUm: 0 },
  settleMs: 50,
  ringingUm: 1,
};

describe('stage physics', () => {
  it('times a long single-axis move by the closed-form trapezoid', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    const end = s.moveTo([30_000, 0, 0], 1000);
    // 30 mm at 20 mm/s with 100 mm/s²: 1.5 s cruise + 0.2 s for the ramps.
    expect((end - 1000) / 1000).toBeCloseTo(moveDurationS(30_000, 20_000, 100_000), 9);
    expect((end - 1000) / 1000).toBeCloseTo(30_000 / 20_000 + 20_000 / 100_000, 9);
    expect(s.commandedAt(end)[0]).toBeCloseTo(30_000, 6);
    // Halfway in time it is halfway in distance (the profile is symmetric).
    expect(s.commandedAt((1000 + end) / 2)[0]).toBeCloseTo(15_000, 6);
    // During acceleration: s = a·t²/2.
    expect(s.commandedAt(1000 + 100)[0]).toBeCloseTo(0.5 * 100_000 * 0.1 ** 2, 6);
  });

  it('times a short move by the triangular profile', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    const end = s.moveTo([1000, 0, 0], 0);
    expect(end / 1000).toBeCloseTo(2 * Math.sqrt(1000 / 100_000), 9);
    expect(s.speedAt(end / 2)).toBeCloseTo(Math.sqrt(100_000 * 1000), 6);
  });

  it('limits a diagonal move by the slower axis', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    const end = s.moveTo([20_000, 20_000, 0], 0);
    const L = Math.hypot(20_000, 20_000);
    // y is the limiting axis: vector limits are its own limits divided by the direction cosine.
    const c = 20_000 / L;
    expect(end / 1000).toBeCloseTo(moveDurationS(L, 10_000 / c, 50_000 / c), 9);
  });

  it('settles after the profile and rings meanwhile', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    const end = s.moveTo([30_000, 0, 0], 0);
    expect(s.isMoving(end - 1)).toBe(true);
    expect(s.isSettled(end + 10)).toBe(false);
    expect(s.isSettled(end + 50)).toBe(true);
    const ring = Math.abs(s.physicalAt(end + 1)[0] - s.commandedAt(end + 1)[0]);
    const later = Math.abs(s.physicalAt(end + 200)[0] - s.commandedAt(end + 200)[0]);
    expect(ring).toBeGreaterThan(0.05);
    expect(later).toBeLessThan(0.01 + 1);
  });

  it('loses the play when the direction reverses (backlash)', () => {
    const s = new StagePhysics({ ...spec, settleMs: 0 }, [10_000, 0, 0]);
    let t = s.moveTo([12_000, 0, 0], 0);
    const fromBelow = s.physicalAt(t + 1000)[0];
    t = s.moveTo([14_000, 0, 0], t + 1000);
    t = s.moveTo([12_000, 0, 0], t + 1000);
    const fromAbove = s.physicalAt(t + 1000)[0];
    expect(fromAbove - fromBelow).toBeCloseTo(2, 9);
    expect(s.commandedAt(t + 1000)[0]).toBeCloseTo(12_000, 9);
  });

  it('refuses targets beyond the travel limits naming axis, target and limit', () => {
    const s = new StagePhysics(spec);
    expect(() => s.moveTo([0, 0, 600], 0)).toThrow(StageLimitError);
    expect(() => s.moveTo([0, 0, 600], 0)).toThrow('axis z: target 600.000 µm is beyond the travel limit 500 µm');
    expect(() => s.moveTo([-1, 0, 0], 0)).toThrow('axis x: target -1.000 µm is beyond the travel limit 0 µm');
  });

  it('stops under control: decelerates and stands where v²/2a says', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    s.moveTo([50_000, 0, 0], 0);
    const t = 1000; // cruising at 20 mm/s by now
    const at = s.commandedAt(t)[0];
    const stopEnd = s.stop(t);
    expect((stopEnd - t) / 1000).toBeCloseTo(20_000 / 100_000, 9);
    expect(s.commandedAt(stopEnd + 1)[0]).toBeCloseTo(at + (20_000 * 20_000) / (2 * 100_000), 6);
  });

  it('a stalled axis stops following its command', () => {
    const s = new StagePhysics(spec, [0, 0, 0]);
    s.stalled.add('y');
    const end = s.moveTo([1000, 1000, 0], 0);
    const p = s.commandedAt(end);
    expect(p[0]).toBeCloseTo(1000, 6);
    expect(p[1]).toBe(0);
  });
});
