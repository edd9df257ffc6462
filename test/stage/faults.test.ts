// Fault injection on both drivers over both links: every fault the firmware simulators can raise ends in a clear,
// typed error or a clean recovery — never a crash, never a position the controller did not report.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import type { StagePose } from '../../src/stage/stage.js';
import { makeRig, outcome, type TestRig } from '../support/stage-rigs.js';

const FAST = { replyTimeoutMs: 200, retries: 2, grbl: { welcomeWaitMs: 300 } };

function physicsPose(r: TestRig): StagePose {
  const [x, y, z] = r.physics.commandedAt(r.clock.now());
  return { x, y, z };
}

function expectAt(p: StagePose, q: Partial<StagePose>, tol = 1.5): void {
  for (const k of ['x', 'y', 'z'] as const) if (q[k] !== undefined) expect(Math.abs(p[k] - q[k]!), k).toBeLessThanOrEqual(tol);
}

for (const protocol of ['grbl', 'proscan'] as const) {
  for (const transport of ['stream', 'pty'] as const) {
    describe(`${protocol} over ${transport}: injected faults`, () => {
      let r: TestRig;
      const stats = (): Record<string, number> => r.stage.stats!();

      beforeEach(async () => {
        r = await makeRig({ protocol, transport }, new SimClock(), { config: FAST });
        await r.stage.connect();
      });
      afterEach(async () => {
        await r.close();
      });

      it('line noise between replies is counted and ignored', async () => {
        r.simulator!.faults.garbageProbability = 0.3;
        for (const x of [1000, 5000, 2000, 8000, 3000]) {
          const p = await r.stage.moveTo({ x, y: x / 2 });
          expectAt(p, { x, y: x / 2 });
          expectAt(p, physicsPose(r));
        }
        expect(stats().garbageLines).toBeGreaterThan(0);
        expect(stats().garbageLines).toBe(r.simulator!.stats.garbageBursts);
      });

      it('a garbled reply to a query is asked again', async () => {
        await r.stage.moveTo({ x: 1234, y: 567 });
        r.simulator!.faults.corruptNextLines = 1;
        expectAt(await r.stage.position(), { x: 1234, y: 567 });
        expect(stats().garbageLines).toBe(1);
        expect(protocol === 'grbl' ? stats().missedStatus : stats().retries).toBe(1);
      });

      it("a garbled acknowledgement of a move is recovered from the controller's own state, not by re-sending", async () => {
        r.simulator!.faults.corruptNextLines = 1;
        const p = await r.stage.moveTo({ x: 4000, y: 3000 });
        expectAt(p, { x: 4000, y: 3000 });
        expectAt(p, physicsPose(r));
        expect(stats().garbageLines).toBe(1);
        if (protocol === 'grbl') expect(stats().lostAcks).toBe(1);
        else expect(stats().ackTimeouts).toBe(1);
        expect(r.simulator!.received.filter((l) => /^G(21G90G53G0|,)/.test(l))).toHaveLength(1);
      });

      it('late replies within the time-out only slow things down', async () => {
        r.simulator!.faults.replyDelayMs = 40;
        expectAt(await r.stage.moveTo({ x: 2500 }), { x: 2500 });
        expectAt(await r.stage.position(), physicsPose(r));
      });

      it('replies later than the time-out give a typed time-out, and are not taken for later answers', async () => {
        await r.stage.moveTo({ x: 1500, y: 700 });
        r.simulator!.faults.replyDelayMs = 1500; // later than all three tries (3 × 200 ms, plus ProScan's drain pauses)
        const e = await outcome(r.stage.position());
        expect(e.error?.code).toBe('TIMEOUT');
        expect(e.error?.message).toBe(protocol === 'grbl' ? 'GRBL sent no status report within 200 ms' : 'ProScan did not answer "P" within 200 ms');
        r.simulator!.faults.replyDelayMs = 0;
        await new Promise((res) => setTimeout(res, 2000));
        const p = await r.stage.moveTo({ x: 3000, y: 100 });
        expectAt(p, { x: 3000, y: 100 });
        expectAt(p, physicsPose(r));
      });

      it('a controller that stops answering fails the move with a time-out; it answers again afterwards', async () => {
        r.simulator!.faults.silent = true;
        const e = await outcome(r.stage.moveTo({ x: 6000 }));
        expect(e.error?.code).toBe('TIMEOUT');
        expect(e.error?.message).toBe(protocol === 'grbl' ? 'GRBL sent no status report within 200 ms' : 'ProScan did not answer "$" within 200 ms');
        expect(r.stage.state).toBe('idle');
        r.simulator!.faults.silent = false;
        expectAt(await r.stage.position(), physicsPose(r));
        expectAt(await r.stage.moveTo({ x: 100 }), { x: 100 });
      });

      it('an alarm during a move fails it with the controller’s reason', async () => {
        r.simulator!.faults.alarmDuringNextMove = { afterMs: 100 };
        const e = await outcome(r.stage.moveTo({ x: 10_000 }));
        if (protocol === 'grbl') {
          expect(e.error).toMatchObject({
            code: 'ALARM',
            firmwareCode: 'ALARM:1',
            message: 'GRBL ALARM:1 (hard limit triggered; position likely lost, home again)',
          });
          expect(r.stage.state).toBe('alarm');
          await expect(r.stage.moveTo({ x: 1 })).rejects.toThrow('stage controller is in alarm (ALARM:1); home() is required before moves');
          // In a limit alarm GRBL answers nothing but a reset: no position is made up meanwhile.
          await expect(r.stage.position()).rejects.toMatchObject({ code: 'TIMEOUT' });
          const home = await r.stage.home();
          expectAt(home, physicsPose(r));
        } else {
          expect(e.error).toMatchObject({
            code: 'TARGET_MISSED',
            axis: 'x',
            message: 'stage axis x stopped at 500.000 µm, 9500.000 µm from the target 10000.000 µm (limit switch hit at the + end of x)',
          });
        }
        expect(r.stage.state).toBe('idle');
        expectAt(await r.stage.moveTo({ x: 2000 }), { x: 2000 });
      });

      it('a stalled axis is caught: the move fails naming the axis and where it stopped', async () => {
        r.physics.stalled.add('y');
        const e = await outcome(r.stage.moveTo({ x: 3000, y: 4000 }));
        expect(e.error).toMatchObject({
          code: 'TARGET_MISSED',
          axis: 'y',
          message: 'stage axis y stopped at 0.000 µm, 4000.000 µm from the target 4000.000 µm (stalled axis or lost steps)',
        });
        expectAt(physicsPose(r), { x: 3000, y: 0 });
        r.physics.stalled.delete('y');
        expectAt(await r.stage.moveTo({ x: 3000, y: 4000 }), { x: 3000, y: 4000 });
      });

      it('a controller that never answers fails connect() with a time-out', async () => {
        await r.stage.close();
        r.simulator!.faults.silent = true;
        const e = await outcome(r.stage.connect());
        expect(e.error?.code).toBe('TIMEOUT');
        expect(e.error?.message).toBe(
          protocol === 'grbl'
            ? `GRBL on ${r.port}${transport === 'pty' ? ' at 115200 baud' : ''} answered no status query within 500 ms`
            : 'ProScan did not answer "COMP,0" within 200 ms',
        );
        expect(r.stage.state).toBe('disconnected');
      });
    });
  }
}

describe('random faults never crash a driver nor make up a position', () => {
  for (const protocol of ['grbl', 'proscan'] as const) {
    it(`${protocol}: 30 moves under noise, garbling, late replies and stalls`, async () => {
      const r = await makeRig({ protocol, transport: 'stream' }, new SimClock(), { config: FAST });
      try {
        await r.stage.connect();
        let seed = 12345;
        const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        const codes = new Set<string>();
        for (let i = 0; i < 30; i++) {
          const f = r.simulator!.faults;
          f.garbageProbability = rnd() * 0.3;
          f.corruptNextLines = rnd() < 0.2 ? 1 : 0;
          f.replyDelayMs = rnd() < 0.1 ? 300 : 0;
          if (rnd() < 0.1) r.physics.stalled.add('x');
          const target = { x: Math.round(rnd() * 20_000), y: Math.round(rnd() * 20_000) };
          const res = await outcome(r.stage.moveTo(target));
          r.physics.stalled.clear();
          if (res.value) {
            expectAt(res.value, target);
            expectAt(res.value, physicsPose(r));
          } else {
            codes.add(String(res.error!.code));
            expect(['TIMEOUT', 'TARGET_MISSED']).toContain(res.error!.code);
          }
          f.garbageProbability = 0;
          f.corruptNextLines = 0;
          f.replyDelayMs = 0;
          if (res.error) await new Promise((s) => setTimeout(s, 350));
          if (r.stage.state === 'alarm') await r.stage.home();
          const p = await outcome(r.stage.position());
          if (p.value) expectAt(p.value, physicsPose(r));
        }
        expectAt(await r.stage.moveTo({ x: 10, y: 10 }), { x: 10, y: 10 });
      } finally {
        await r.close();
      }
    });
  }
});
