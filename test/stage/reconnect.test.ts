// Reconnecting: when the port disappears the driver reports 'disconnected', fails what was waiting, retries with
// back-off, and re-reads (or re-homes) the position before it accepts moves again. Nothing is ever re-sent.
import { afterEach, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import { holdTime } from '../../src/stage/hold-time.js';
import type { StagePose } from '../../src/stage/stage.js';
import { grblSim, makeRig, nextState, outcome, type TestRig } from '../support/stage-rigs.js';

const FAST = { replyTimeoutMs: 300, reconnect: { initialDelayMs: 40, maxDelayMs: 320, factor: 2 }, grbl: { welcomeWaitMs: 300 } };

let rig: TestRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

function physicsPose(r: TestRig): StagePose {
  const [x, y, z] = r.physics.commandedAt(r.clock.now());
  return { x, y, z };
}

function once<T>(r: TestRig, event: string): Promise<T> {
  return new Promise((resolve) => r.stage.once(event, resolve));
}

const MOVE_LINE = { grbl: /^G21G90G53G0/, proscan: /^G,/ };

for (const protocol of ['grbl', 'proscan'] as const) {
  for (const transport of ['stream', 'pty'] as const) {
    it(`${protocol} over ${transport}: the link drops mid-move; the move fails, nothing is replayed, the position is re-read`, async () => {
      rig = await makeRig({ protocol, transport }, new SimClock(), { config: FAST });
      const r = rig;
      await r.stage.connect();
      const states: string[] = [];
      r.stage.on('state', (s: string) => states.push(s));
      const delays: number[] = [];
      r.stage.on('reconnecting', (a: { delayMs: number }) => delays.push(a.delayMs));
      const moving = nextState(r.stage, 'moving');
      const first = outcome(r.stage.moveTo({ x: 60_000, y: 30_000 }));
      const queued = outcome(r.stage.moveTo({ x: 1000 }));
      await moving;
      const lost = once<Error>(r, 'disconnected');
      // Hold instrument time so the controller is still mid-move when the cable goes.
      await holdTime(r.clock, async () => {
        while (!r.simulator!.received.some((l) => MOVE_LINE[protocol].test(l))) await new Promise((s) => setTimeout(s, 1));
        expect(r.physics.isMoving(r.clock.now())).toBe(true);
        await r.unplug();
      });
      expect((await lost).message).toMatch(/^stage link lost \(/);
      const a = await first;
      expect(a.error).toMatchObject({ disconnected: true, code: 'DISCONNECTED' });
      const b = await queued;
      expect(b.error).toMatchObject({ disconnected: true, message: 'the stage link dropped while this move waited; it was not sent' });
      expect(r.stage.state).toBe('disconnected');
      await expect(r.stage.moveTo({ x: 5 })).rejects.toThrow('stage is not connected');

      // Unplugged for a while: attempts fail and back off (40, 80, 160, 320, 320 … ms).
      while (delays.length < 6) await new Promise((s) => setTimeout(s, 20));
      expect(delays.slice(0, 6)).toEqual([40, 80, 160, 320, 320, 320]);
      expect(r.stage.stats!().reconnectAttempts).toBeGreaterThanOrEqual(5);

      const back = once<StagePose>(r, 'reconnected');
      await r.replug();
      const pose = await back;
      // The controller finished the move on its own while the host was away; the driver reports where it is now.
      expect(Math.abs(pose.x - physicsPose(r).x)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(pose.x - 60_000)).toBeLessThanOrEqual(1.5);
      expect(r.stage.state).toBe('idle');
      expect(states).toContain('connecting');
      expect(r.simulator!.received.filter((l) => MOVE_LINE[protocol].test(l))).toHaveLength(1);
      const p = await r.stage.moveTo({ x: 2000, y: 2000 });
      expect(Math.abs(p.x - 2000)).toBeLessThanOrEqual(1.5);
      expect(r.stage.stats!()).toMatchObject({ disconnects: 1, reconnects: 1 });
    });
  }
}

it('ProScan with afterReconnect: rehome indexes the stage again before accepting moves', async () => {
  rig = await makeRig({ protocol: 'proscan', transport: 'stream' }, new SimClock(), { config: { ...FAST, afterReconnect: 'rehome' } });
  const r = rig;
  await r.stage.connect();
  await r.stage.moveTo({ x: 20_000, y: 10_000 });
  await r.unplug();
  const back = once<StagePose>(r, 'reconnected');
  await r.replug();
  const pose = await back;
  expect(pose.x).toBe(0);
  expect(pose.y).toBe(0);
  expect(r.simulator!.received.filter((l) => l === 'SIS')).toHaveLength(1);
  expect(r.stage.state).toBe('idle');
});

it('GRBL that resets when re-plugged comes back locked: with reread, moves wait for home()', async () => {
  rig = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), { config: FAST, grbl: { resetOnAttach: true } });
  const r = rig;
  // The first connection also resets the board: the twin then starts where the physics is, position unknown.
  await r.stage.connect();
  expect(r.stage.state).toBe('alarm');
  await r.stage.home();
  await r.stage.moveTo({ x: 15_000 });
  await r.unplug();
  const back = once<StagePose>(r, 'reconnected');
  await r.replug();
  await back;
  expect(r.stage.state).toBe('alarm');
  const e = await outcome(r.stage.moveTo({ x: 1000 }));
  expect(e.error).toMatchObject({
    code: 'ALARM',
    message: 'stage controller is in alarm (controller started locked; its position is unknown); home() is required before moves',
  });
  // The board's counters restarted at zero where the stage stood: what it reports is what it says, flagged as lost.
  expect((await r.stage.position()).x).toBe(r.config!.axes.x.originUm);
  const home = await r.stage.home();
  expect(home).toEqual({ x: 0, y: 0, z: 500 });
  expect(Math.abs((await r.stage.moveTo({ x: 1000 })).x - 1000)).toBeLessThanOrEqual(1.5);
  expect(grblSim(r).received.filter((l) => l === '$H')).toHaveLength(2);
});

it('gives up after maxAttempts and says so', async () => {
  rig = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), {
    config: { ...FAST, reconnect: { initialDelayMs: 20, maxDelayMs: 40, factor: 2, maxAttempts: 3 } },
  });
  const r = rig;
  await r.stage.connect();
  const failed = once<Error>(r, 'reconnect-failed');
  await r.unplug();
  const err = await failed;
  expect(err.message).toBe('cannot open stage port twin grbl (in-process): no such device (cable unplugged)');
  expect(r.stage.stats!().reconnectAttempts).toBe(3);
  await r.replug();
  await new Promise((s) => setTimeout(s, 100));
  expect(r.stage.state).toBe('disconnected');
  await r.stage.connect();
  expect(r.stage.state).toBe('idle');
});
