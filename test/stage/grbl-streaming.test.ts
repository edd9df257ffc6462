// GRBL line streaming against the simulated firmware: character counting keeps the 128-byte receive buffer from
// overflowing (a host that does not count does overflow it), the planner holds 15 blocks, G4 waits for the motion,
// and the firmware's error codes come back as typed errors with their meaning.
import { afterEach, describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { SimClock } from '../../src/kernel/clock.js';
import { holdTime } from '../../src/stage/hold-time.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { duplexPair } from '../../src/sim/firmware/duplex-pair.js';
import { GrblFirmware, type GrblFirmwareOptions } from '../../src/sim/firmware/grbl.js';
import { StagePhysics } from '../../src/sim/stage-physics.js';
import { GrblChannel } from '../../src/stage/grbl/channel.js';
import type { GrblStatus } from '../../src/stage/grbl/parser.js';

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

function setup(opts: GrblFirmwareOptions = {}): { sim: GrblFirmware; ch: GrblChannel; host: Duplex; physics: StagePhysics; clock: SimClock } {
  const clock = new SimClock();
  const physics = new StagePhysics(structuredClone(defaultWorldSpec().stage), [0, 0, 0]);
  const sim = new GrblFirmware(physics, clock, opts);
  const [host, fw] = duplexPair();
  sim.attach(fw);
  const ch = new GrblChannel(host, { rxBufferBytes: 128, replyTimeoutMs: 2000 });
  cleanup.push(() => {
    ch.close(new Error('test over'));
    sim.shutdown();
    host.destroy();
  });
  return { sim, ch, host, physics, clock };
}

const STEPS = Array.from({ length: 40 }, (_, i) => `G21G91G1X${(0.1 + (i % 7) * 0.01).toFixed(2)}Y0.05F600`);

describe('GRBL streaming', () => {
  it('character counting streams many lines without overflowing the receive buffer', async () => {
    const { sim, ch } = setup();
    let maxInFlight = 0;
    const orig = ch.send.bind(ch);
    const acks = STEPS.map((l) => {
      const p = orig(l);
      maxInFlight = Math.max(maxInFlight, ch.bytesInFlight);
      return p;
    });
    await Promise.all([...acks, ch.send('G4P0', { timeoutMs: null })]);
    expect(maxInFlight).toBeLessThanOrEqual(128);
    expect(maxInFlight).toBeGreaterThan(100);
    expect(sim.stats.rxOverflowBytes).toBe(0);
    expect(sim.received).toEqual([...STEPS, 'G4P0']);
    expect(ch.stats).toMatchObject({ strayAcks: 0, garbageLines: 0, timeouts: 0 });
  });

  it('a host that does not count characters overflows the 128-byte buffer', async () => {
    const { sim, host } = setup();
    const replies: string[] = [];
    host.on('data', (d: Buffer) => replies.push(...d.toString().split('\r\n').filter(Boolean)));
    host.write(STEPS.map((l) => `${l}\n`).join(''));
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.stats.rxOverflowBytes).toBeGreaterThan(0);
    expect(sim.received.length).toBeLessThan(STEPS.length);
  });

  it('acknowledges motion lines as they are planned, holds 15 blocks, and G4 answers only when the motion is done', async () => {
    const { ch, physics, clock } = setup({ statusMask: 3 });
    const acked: number[] = [];
    const lines = Array.from({ length: 20 }, () => 'G21G91G0X2');
    const acks: Array<Promise<number>> = [];
    // Hold instrument time so the simulated moves cannot finish while we look.
    const st: GrblStatus = await holdTime(clock, async () => {
      acks.push(...lines.map((l, i) => ch.send(l, { timeoutMs: null }).then(() => acked.push(i))));
      await new Promise((r) => setTimeout(r, 30));
      return ch.status();
    });
    expect(st.state).toBe('Run');
    expect(st.bufferBlocks).toBe(0);
    expect(acked.length).toBeGreaterThanOrEqual(15);
    expect(acked.length).toBeLessThan(20);
    await Promise.all(acks);
    await ch.send('G4P0', { timeoutMs: null });
    expect(physics.isMoving(clock.now())).toBe(false);
    expect(physics.commandedAt(clock.now())[0]).toBeCloseTo(40_000, 6);
    const idle = await ch.status();
    expect(idle).toMatchObject({ state: 'Idle', bufferBlocks: 15, bufferBytes: 128 });
    // Machine space is −$13x…0 with zero at the + end of travel: the stage started at the − ends of X and Y.
    expect(idle.mpos).toEqual([-60, -100, -0.5]);
  });

  it("maps the firmware's refusals to typed errors that say what they mean", async () => {
    const { ch } = setup({ homingEnabled: false });
    await expect(ch.send('G1X1')).rejects.toMatchObject({
      message: 'GRBL error:22 (feed rate not set) for "G1X1"',
      code: 'CONTROLLER_ERROR',
      firmwareCode: 'error:22',
    });
    await expect(ch.send('G0G1X1')).rejects.toThrow('GRBL error:21 (two G-codes of the same modal group in one line) for "G0G1X1"');
    await expect(ch.send('G2X1Y1I1')).rejects.toThrow('error:20');
    await expect(ch.send('$H')).rejects.toThrow('GRBL error:5 (homing is not enabled in the settings ($22)) for "$H"');
    await expect(ch.send('$Q')).rejects.toThrow('error:3');
    await expect(ch.send(`G0X${'1'.repeat(78)}`)).rejects.toThrow('error:11');
    await expect(ch.send('$J=G91X1')).rejects.toThrow('GRBL error:22');
    await expect(ch.send('G21G90G53G0X-1')).resolves.toEqual([]);
  });

  it('answers $$ and $I with their frames before the ok, and locks G-code out in alarm', async () => {
    const { sim, ch } = setup({ startHomed: false, softLimits: false });
    const settings = await ch.send('$$');
    expect(settings.find((f) => f.type === 'setting' && f.key === '100')).toEqual({ type: 'setting', key: '100', value: '1000.000' });
    const info = await ch.send('$I');
    expect(info).toContainEqual({ type: 'message', tag: 'OPT', text: 'V,15,128' });
    expect(sim.stateName).toBe('Alarm');
    await expect(ch.send('G0X1')).rejects.toThrow('GRBL error:9 (G-code is locked out in alarm or jog state) for "G0X1"');
    await ch.send('$X');
    await expect(ch.send('G0X1')).resolves.toEqual([]);
  });

  it('ignores status queries while homing, as GRBL does, and answers again afterwards', async () => {
    const { ch, clock } = setup();
    const home = ch.send('$H', { timeoutMs: null });
    await expect(holdTime(clock, () => ch.status(100))).rejects.toThrow('GRBL sent no status report within 100 ms');
    await clock.sleep(60_000);
    await home;
    // At the switches: X and Y homed toward − read −$13x, Z homed toward + reads 0.
    await expect(ch.status()).resolves.toMatchObject({ state: 'Idle', mpos: [-100, -100, 0] });
  });
});
