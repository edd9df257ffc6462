import { describe, expect, it } from 'vitest';
import { RealClock, SimClock } from '../../src/kernel/clock.js';

describe('SimClock', () => {
  it('jumps over sleeps when nothing runs: instrument time passes without wall time', async () => {
    const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
    // An hour of instrument time: were it wall time, the test would hit its time-out long before.
    await clock.sleep(3_600_000);
    expect(clock.now()).toBe(3_600_000);
    expect(clock.wallTime().toISOString()).toBe('2026-01-01T01:00:00.000Z');
  });

  it('wakes concurrent sleepers in deadline order', async () => {
    const clock = new SimClock();
    const order: string[] = [];
    await Promise.all([
      clock.sleep(300).then(() => order.push('c')),
      clock.sleep(100).then(() => order.push('a')),
      clock.sleep(200).then(() => order.push('b')),
    ]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(clock.now()).toBe(300);
  });

  it('counts busy work as instrument time and overlaps it with waits (max, not sum)', async () => {
    // The work's own duration comes from a counter the work advances, not from how busy this machine is.
    let workMs = 0;
    const clock = new SimClock(new Date(0), { workTimeMs: () => workMs });
    const work = clock.busy(async () => {
      await Promise.resolve();
      workMs += 50;
    });
    const wait = clock.sleep(1000);
    await Promise.all([work, wait]);
    // The 50 ms of work ran during the 1 s wait: the total is the wait.
    expect(clock.now()).toBe(1000);
    await clock.busy(async () => {
      workMs += 30;
    });
    expect(clock.now()).toBe(1030);
  });

  it('rejects a sleep when its signal aborts and drops it from the schedule', async () => {
    const clock = new SimClock();
    const ac = new AbortController();
    const p = clock.sleep(1000, ac.signal);
    ac.abort();
    await expect(p).rejects.toThrow('This operation was aborted');
    expect(clock.pending).toBe(0);
    await expect(clock.sleep(5, AbortSignal.abort())).rejects.toThrow();
  });
});

describe('RealClock', () => {
  it('sleeps in wall time', async () => {
    const clock = new RealClock();
    const t0 = clock.now();
    await clock.sleep(20);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(19);
  });
});
