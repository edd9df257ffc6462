// The Stage port's contract (src/stage/stage.ts): every adapter — the GRBL and ProScan drivers over each link, and the
// protocol-less TwinStage — must pass it. Assertions use the twin's physics as the ground truth of where the stage is.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/kernel/clock.js';
import type { StagePhysics } from '../../src/sim/stage-physics.js';
import type { Stage, StagePose } from '../../src/stage/stage.js';
import { nextState, outcome } from '../support/stage-rigs.js';

export interface StageContractSubject {
  stage: Stage;
  clock: Clock;
  physics: StagePhysics;
  /** Lines the controller has received so far (serial drivers), to prove nothing was sent. */
  commandsReceived?: () => number;
  close(): Promise<void>;
}

export interface StageContractOptions {
  /** Distance scale of the moves (µm): small under RealClock, where moves take wall time. */
  stepUm: number;
  /** Position agreement between the driver and the physics (µm): the controller's reporting resolution. */
  tolUm: number;
}

const AXES = ['x', 'y', 'z'] as const;

function near(a: Partial<StagePose>, b: StagePose, tol: number): void {
  for (const k of AXES) if (a[k] !== undefined) expect(Math.abs(a[k]! - b[k]), `${k}: ${a[k]} vs ${b[k]}`).toBeLessThanOrEqual(tol);
}

function physicsPose(s: StageContractSubject): StagePose {
  const [x, y, z] = s.physics.commandedAt(s.clock.now());
  return { x, y, z };
}

export function stageContract(name: string, make: () => Promise<StageContractSubject>, opts: StageContractOptions): void {
  describe(`Stage contract: ${name}`, () => {
    let s: StageContractSubject;
    const D = opts.stepUm;
    const tol = opts.tolUm;
    /** A long move (still running when the test interrupts it), inside the travel. */
    const far = (): number => Math.min(40 * D, 0.9 * s.stage.limits.x.maxUm, 0.9 * s.stage.limits.y.maxUm);

    beforeEach(async () => {
      s = await make();
      await s.stage.connect();
    });

    afterEach(async () => {
      await s.close();
    });

    it('connects idle and reports the position the controller holds', async () => {
      expect(s.stage.state).toBe('idle');
      const p = await s.stage.position();
      near(p, physicsPose(s), tol);
      expect(s.stage.limits.x.maxUm).toBeGreaterThan(s.stage.limits.x.minUm);
    });

    it('moveTo resolves at the target, settled, with the position read back', async () => {
      const states: string[] = [];
      const positions: StagePose[] = [];
      s.stage.on('state', (st: string) => states.push(st));
      s.stage.on('position', (p: StagePose) => positions.push(p));
      const target = { x: 3 * D, y: 2 * D, z: 10 };
      const p = await s.stage.moveTo(target);
      near(target, p, tol);
      near(p, physicsPose(s), tol);
      expect(s.physics.isSettled(s.clock.now())).toBe(true);
      expect(states).toEqual(['moving', 'idle']);
      expect(positions.at(-1)).toEqual(p);
      expect(s.stage.state).toBe('idle');
    });

    it('leaves the axes a move does not name where they are', async () => {
      await s.stage.moveTo({ x: D, y: 2 * D, z: 20 });
      const p = await s.stage.moveTo({ x: 2 * D });
      near({ x: 2 * D, y: 2 * D, z: 20 }, p, tol);
      const q = await s.stage.moveTo({ z: -30 });
      near({ x: 2 * D, y: 2 * D, z: -30 }, q, tol);
    });

    it('moveBy moves relative to the position the controller reports', async () => {
      await s.stage.moveTo({ x: 2 * D, y: 2 * D, z: 0 });
      const p = await s.stage.moveBy({ x: -D, z: 15 });
      near({ x: D, y: 2 * D, z: 15 }, p, tol);
      near(p, physicsPose(s), tol);
    });

    it('refuses targets beyond the soft limits before sending anything', async () => {
      const before = s.commandsReceived?.();
      const l = s.stage.limits;
      await expect(s.stage.moveTo({ x: l.x.maxUm + 1 })).rejects.toThrow(`stage axis x: target ${l.x.maxUm + 1} µm is above the soft limit ${l.x.maxUm} µm`);
      await expect(s.stage.moveTo({ y: 10, z: l.z.minUm - 5 })).rejects.toThrow(
        `stage axis z: target ${l.z.minUm - 5} µm is below the soft limit ${l.z.minUm} µm`,
      );
      await expect(s.stage.moveTo({ x: Number.NaN })).rejects.toThrow('stage axis x: target NaN is not a finite number of µm');
      await expect(s.stage.moveTo({ x: 1 }, { speedFraction: 0 })).rejects.toThrow('speedFraction 0 is outside (0, 1]');
      await expect(s.stage.moveTo({ x: l.x.maxUm + 1 })).rejects.toBeInstanceOf(RangeError);
      if (before !== undefined) expect(s.commandsReceived!()).toBe(before);
      expect(s.physics.isMoving(s.clock.now())).toBe(false);
      expect(s.stage.state).toBe('idle');
      await s.stage.moveTo({ x: D });
      await expect(s.stage.moveBy({ x: l.x.maxUm })).rejects.toThrow(`stage axis x: target ${D + l.x.maxUm} µm is above the soft limit ${l.x.maxUm} µm`);
    });

    it('an aborted move stops, rejects as canceled, and the position stays known', async () => {
      const ac = new AbortController();
      const moving = nextState(s.stage, 'moving');
      const move = outcome(s.stage.moveTo({ x: far() }, { signal: ac.signal }));
      await moving;
      await s.clock.sleep(120);
      ac.abort();
      const r = await move;
      expect(r.error?.canceled).toBe(true);
      expect(r.error?.code).toBe('CANCELED');
      expect(s.stage.state).toBe('idle');
      const p = await s.stage.position();
      expect(p.x).toBeGreaterThan(0);
      expect(p.x).toBeLessThan(far());
      near(p, physicsPose(s), tol);
      expect(s.physics.isMoving(s.clock.now())).toBe(false);
      near({ x: D }, await s.stage.moveTo({ x: D }), tol);
    });

    it('a signal aborted beforehand rejects without moving', async () => {
      const ac = new AbortController();
      ac.abort();
      const r = await outcome(s.stage.moveTo({ x: 5 * D }, { signal: ac.signal }));
      expect(r.error?.canceled).toBe(true);
      near({ x: 0 }, await s.stage.position(), tol);
    });

    it('stop() decelerates a move in progress, which rejects as canceled', async () => {
      const moving = nextState(s.stage, 'moving');
      const move = outcome(s.stage.moveTo({ y: far() }));
      await moving;
      await s.clock.sleep(120);
      await s.stage.stop();
      const r = await move;
      expect(r.error?.canceled).toBe(true);
      expect(r.error?.message).toBe('move stopped');
      expect(s.stage.state).toBe('idle');
      const p = await s.stage.position();
      expect(p.y).toBeGreaterThan(0);
      expect(p.y).toBeLessThan(far());
      near({ y: 2 * D }, await s.stage.moveTo({ y: 2 * D }), tol);
    });

    it('emergencyStop() halts at once; after home() (when the controller wants it) moves work again', async () => {
      const moving = nextState(s.stage, 'moving');
      const move = outcome(s.stage.moveTo({ x: far(), y: far() }));
      await moving;
      await s.clock.sleep(120);
      await s.stage.emergencyStop();
      const r = await move;
      expect(r.error?.canceled).toBe(true);
      expect(s.physics.isMoving(s.clock.now())).toBe(false);
      expect(['idle', 'alarm']).toContain(s.stage.state);
      if (s.stage.state === 'alarm') {
        await expect(s.stage.moveTo({ x: D })).rejects.toMatchObject({ code: 'ALARM' });
        await s.stage.home();
      }
      expect(s.stage.state).toBe('idle');
      near({ x: D, y: D }, await s.stage.moveTo({ x: D, y: D }), tol);
    });

    it('home() resolves with the position read back from the controller', async () => {
      await s.stage.moveTo({ x: 2 * D, y: D });
      const p = await s.stage.home();
      near(p, physicsPose(s), tol);
      near(p, await s.stage.position(), tol);
      expect(s.stage.state).toBe('idle');
    });

    it('setMotion sets the XY speed and acceleration that moves then use', async () => {
      const slow = await s.stage.setMotion({ speedUmPerS: 2000 });
      expect(Math.abs(slow.speedUmPerS - 2000)).toBeLessThanOrEqual(40);
      const t0 = s.clock.now();
      await s.stage.moveTo({ x: 2 * D });
      // A lower bound set by physics, not a performance threshold: 2·D µm cannot take less than 2·D / speed.
      expect(s.clock.now() - t0).toBeGreaterThanOrEqual(((2 * D) / slow.speedUmPerS) * 1000 * 0.98);
      const fast = await s.stage.setMotion({ speedUmPerS: 20_000, accelUmPerS2: 50_000 });
      expect(Math.abs(fast.accelUmPerS2 - 50_000)).toBeLessThanOrEqual(1000);
      expect(s.physics.spec.x.accelUmPerS2).toBeCloseTo(fast.accelUmPerS2, -2);
      await expect(s.stage.setMotion({ speedUmPerS: -1 })).rejects.toThrow('speedUmPerS -1 must be a positive number');
    });

    it('serialises moves: a second moveTo waits for the first', async () => {
      const a = s.stage.moveTo({ x: 3 * D });
      const b = s.stage.moveTo({ x: D, y: D });
      near({ x: 3 * D }, await a, tol);
      near({ x: D, y: D }, await b, tol);
      near({ x: D, y: D }, physicsPose(s), tol);
    });

    it('after close() calls are refused as disconnected', async () => {
      await s.stage.close();
      expect(s.stage.state).toBe('disconnected');
      const r = await outcome(s.stage.moveTo({ x: D }));
      expect(r.error?.message).toBe('stage is not connected');
      expect(r.error?.disconnected).toBe(true);
      await expect(s.stage.position()).rejects.toMatchObject({ disconnected: true });
    });
  });
}
