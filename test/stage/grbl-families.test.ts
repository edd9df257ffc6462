// The GRBL families the driver meets on real boards — gnea Grbl 1.1h, grblHAL, FluidNC, Grbl_ESP32 — each reproduced by
// the firmware simulator (src/sim/firmware/grbl-families.ts), and each fault seen on those boards checked against the
// driver: banners and resets, alarm recovery and unlock, jog cancel, receive-buffer size, lost acknowledgements, code
// tables, reply time-outs while lines queue, stale replies at connect, the stage ↔ machine mapping, homed state.
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock, SimClock } from '../../src/kernel/clock.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { duplexPair } from '../../src/sim/firmware/duplex-pair.js';
import { GRBL_FAMILIES, GRBL_FAMILY_PROFILES, type GrblFamily } from '../../src/sim/firmware/grbl-families.js';
import { GrblFirmware, type GrblFirmwareOptions } from '../../src/sim/firmware/grbl.js';
import type { TwinStageOptions } from '../../src/sim/firmware/twin-serial-stage.js';
import { StagePhysics } from '../../src/sim/stage-physics.js';
import { GrblChannel } from '../../src/stage/grbl/channel.js';
import { grblAlarmText, grblErrorText } from '../../src/stage/grbl/codes.js';
import type { GrblStage } from '../../src/stage/grbl/driver.js';
import type { StagePose } from '../../src/stage/stage.js';
import { grblSim, makeRig, nextState, outcome, type TestRig } from '../support/stage-rigs.js';

const FAST = { replyTimeoutMs: 300, retries: 2, reconnect: { initialDelayMs: 40, maxDelayMs: 320, factor: 2 }, grbl: { welcomeWaitMs: 300 } };
/** A hang shows as this test time-out; every call under test has its own, shorter one. */
const T = 30_000;

let rig: TestRig | null = null;
let cleanup: Array<() => void> = [];
afterEach(async () => {
  await rig?.close();
  rig = null;
  for (const c of cleanup) c();
  cleanup = [];
});

async function connect(
  family: GrblFamily,
  grbl: GrblFirmwareOptions = {},
  config: TwinStageOptions['config'] = {},
): Promise<{ r: TestRig; stage: GrblStage; sim: GrblFirmware }> {
  rig = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), {
    config: { ...FAST, ...config, grbl: { ...FAST.grbl, ...config.grbl } },
    grbl: { family, ...grbl },
  });
  await rig.stage.connect();
  return { r: rig, stage: rig.stage as unknown as GrblStage, sim: grblSim(rig) };
}

function physicsPose(r: TestRig): StagePose {
  const [x, y, z] = r.physics.commandedAt(r.clock.now());
  return { x, y, z };
}

function expectAt(p: StagePose, q: Partial<StagePose>, tol = 1.5): void {
  for (const k of ['x', 'y', 'z'] as const) if (q[k] !== undefined) expect(Math.abs(p[k] - q[k]!), k).toBeLessThanOrEqual(tol);
}

function once<T>(r: TestRig, event: string): Promise<T> {
  return new Promise((resolve) => r.stage.once(event, resolve));
}

for (const family of GRBL_FAMILIES) {
  const profile = GRBL_FAMILY_PROFILES[family];
  describe(`GRBL family ${family} (${profile.banner})`, () => {
    it('after stop() the reset banner is recognised, unanswered lines are cleared, and the next move runs', { timeout: T }, async () => {
      const { r, stage } = await connect(family);
      const moving = nextState(stage, 'moving');
      const move = outcome(stage.moveTo({ x: 90_000, y: 90_000 }));
      await moving;
      await r.clock.sleep(200);
      await stage.stop();
      expect((await move).error?.canceled).toBe(true);
      const p = await stage.moveTo({ x: 1000, y: 1000 });
      expectAt(p, { x: 1000, y: 1000 });
      expectAt(p, physicsPose(r));
      expect(stage.stats()).toMatchObject({ resets: 1, strayAcks: 0 });
    });

    it('an emergency stop (ALARM:3) with homing disabled: home() unlocks with $X, moves run again', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family, { homingEnabled: false, softLimits: false });
      const moving = nextState(stage, 'moving');
      const move = outcome(stage.moveTo({ x: 80_000 }));
      await moving;
      await r.clock.sleep(200);
      await stage.emergencyStop();
      expect((await move).error?.canceled).toBe(true);
      expect(stage.state).toBe('alarm');
      await expect(stage.moveTo({ x: 1000 })).rejects.toMatchObject({ code: 'ALARM' });
      await stage.home();
      expect(stage.state).toBe('idle');
      expect(sim.received).toContain('$X');
      expect(sim.received).not.toContain('$H');
      expectAt(await stage.moveTo({ x: 1000 }), physicsPose(r));
    });

    it('a soft-limit alarm (ALARM:2): the driver waits for [MSG:Reset to continue], resets and unlocks; the next move runs', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family);
      const moving = nextState(stage, 'moving');
      const move = outcome(stage.moveTo({ x: 60_000 }));
      await moving;
      await r.clock.sleep(100);
      sim.triggerAlarm(2);
      expect((await move).error).toMatchObject({ code: 'ALARM', firmwareCode: 'ALARM:2' });
      // The position survives a soft-limit alarm: no homing needed, and none is done.
      const p = await stage.moveTo({ x: 2000 });
      expectAt(p, { x: 2000 });
      expectAt(p, physicsPose(r));
      expect(sim.received).toContain('$X');
      expect(sim.received).not.toContain('$H');
      expect(stage.state).toBe('idle');
    });

    it('home() after a soft-limit alarm while idle resets and unlocks (position kept), without a homing cycle', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family);
      await stage.moveTo({ x: 5000 });
      sim.triggerAlarm(2);
      await nextState(stage, 'alarm');
      expectAt(await stage.home(), { x: 5000 });
      expect(sim.received).toContain('$X');
      expect(sim.received).not.toContain('$H');
      expectAt(await stage.moveTo({ x: 6000 }), physicsPose(r));
    });

    it('home() right after a hard-limit alarm waits for the reset message, resets, then homes', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family);
      const moving = nextState(stage, 'moving');
      const move = outcome(stage.moveTo({ x: 60_000 }));
      await moving;
      sim.triggerAlarm(1);
      expect((await move).error).toMatchObject({ firmwareCode: 'ALARM:1' });
      const home = await stage.home();
      expectAt(home, physicsPose(r));
      expect(stage.state).toBe('idle');
      expect(sim.received.filter((l) => l === '$H')).toHaveLength(1);
    });

    it('an aborted jog is cancelled with 0x85 and stops at once', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family);
      const ac = new AbortController();
      const moving = nextState(stage, 'moving');
      const jog = outcome(stage.jog({ x: 20_000 }, { feedUmPerS: 2000, signal: ac.signal }));
      await moving;
      await r.clock.sleep(1000);
      ac.abort();
      expect((await jog).error?.canceled).toBe(true);
      expect(sim.realtimeReceived).toContain(0x85);
      // 1 s at 2 mm/s: about 2 mm, far from the 20 mm the jog asked for.
      const x = physicsPose(r).x;
      expect(x).toBeGreaterThan(1000);
      expect(x).toBeLessThan(10_000);
      expect(stage.state).toBe('idle');
      expectAt(await stage.moveTo({ x: 500 }), { x: 500 });
    });

    it('the receive buffer is the one an empty Bf: reports, and a garbled ok is recovered', { timeout: T }, async () => {
      const { r, stage, sim } = await connect(family, { statusMask: 3 });
      expect(stage.stats().rxBufferBytes).toBe(profile.rxBufferBytes - profile.bfOffset);
      sim.faults.corruptNextLines = 1;
      const p = await stage.moveTo({ x: 4000, y: 3000 });
      expectAt(p, { x: 4000, y: 3000 });
      expectAt(p, physicsPose(r));
      expect(stage.stats().lostAcks).toBe(1);
    });

    it('replies left on the line from an earlier session are discarded at connect', { timeout: T }, async () => {
      const { r, stage } = await connect(family, { staleOnAttach: ['ok', 'ok'] });
      expect(stage.state).toBe('idle');
      expect(stage.stats().staleReplies).toBe(2);
      expectAt(await stage.moveTo({ x: 3000 }), physicsPose(r));
    });

    it('the stage ↔ machine mapping is checked against $13x and the homing direction', { timeout: T }, async () => {
      const bad = outcome(connect(family, {}, { axes: { x: { originUm: 0 } } }));
      const e = (await bad).error;
      expect(e).toMatchObject({ code: 'CONFIG' });
      expect(e?.message).toBe(
        'GRBL soft limits ($20=1) accept x only in machine space -100.000…0.000 mm (x homes toward − ($23), its home end reads -100.000 mm), ' +
          'but stage.axes.x (direction 1, originUm 0) puts the stage travel 0…100000 µm at 0.000…100.000 mm; set stage.axes.x.originUm to 100000',
      );
    });

    it('after a power cycle while unplugged, the controller is flagged as not homed, not silently accepted', { timeout: T }, async () => {
      const homing = profile.reportsHomed;
      const { r, stage, sim } = await connect(family, homing ? {} : { homingEnabled: false, softLimits: false });
      await stage.moveTo({ x: 20_000 });
      await r.unplug();
      sim.powerCycle();
      const back = once<StagePose>(r, 'reconnected');
      await r.replug();
      await back;
      expect(stage.state).toBe('alarm');
      const e = await outcome(stage.moveTo({ x: 1000 }));
      expect(e.error?.code).toBe('ALARM');
      expect(e.error?.message).toMatch(homing ? /not homed since power-up \(H:0\)/ : /position changed while the link was down/);
      await stage.home();
      expect(stage.state).toBe('idle');
      expect(sim.received).toContain(homing ? '$H' : '$X');
      if (homing) expectAt(await stage.moveTo({ x: 1000 }), physicsPose(r));
      // Without homing switches, home() unlocks and accepts the controller's count (machine 0 where the stage stood).
      else expectAt(await stage.moveBy({ x: -1000 }), { x: r.config!.axes.x.originUm - 1000 });
    });
  });
}

describe('no move waits for ever', () => {
  it('a move longer than stage.moveTimeoutS is stopped and fails with TIMEOUT; the stage stays usable', { timeout: T }, async () => {
    // Real time: the limit is instrument time plus a reply time-out of real time (under SimClock the move would finish).
    rig = await makeRig({ protocol: 'grbl', transport: 'stream', family: 'grblhal' }, new RealClock(), { config: { ...FAST, moveTimeoutS: 1 } });
    await rig.stage.connect();
    const r = rig;
    const stage = rig.stage as unknown as GrblStage;
    // 90 mm at 20 mm/s takes 4.5 s.
    const e = await outcome(stage.moveTo({ x: 90_000 }));
    expect(e.error).toMatchObject({ code: 'TIMEOUT', message: 'the move did not finish within 1 s (stage.moveTimeoutS); it was stopped' });
    expect(r.physics.isMoving(r.clock.now())).toBe(false);
    expect(physicsPose(r).x).toBeLessThan(40_000);
    expect(stage.state).toBe('idle');
    expectAt(await stage.moveBy({ x: -5000 }), physicsPose(r));
  });
});

describe('grblHAL codes beyond Grbl 1.1', () => {
  it('errors above 38 and alarms above 10 read with their meaning', async () => {
    expect(grblErrorText(46)).toBe('homing required before this command');
    expect(grblErrorText(50)).toBe('emergency stop active');
    expect(grblAlarmText(11)).toBe('homing required; home ($H) to continue');
    expect(grblAlarmText(17)).toBe('motor fault');
    const { stage, sim } = await connect('grblhal');
    const moving = nextState(stage, 'moving');
    const move = outcome(stage.moveTo({ x: 60_000 }));
    await moving;
    sim.triggerAlarm(17);
    expect((await move).error).toMatchObject({ code: 'ALARM', firmwareCode: 'ALARM:17', message: 'GRBL ALARM:17 (motor fault)' });
  });
});

describe('reply time-outs while lines queue behind a full planner', () => {
  for (const family of ['grbl', 'grblhal'] as const) {
    it(`${family}: no line times out while the controller is busy with the ones before it`, { timeout: T }, async () => {
      const clock = new RealClock();
      const physics = new StagePhysics(structuredClone(defaultWorldSpec().stage), [0, 0, 0]);
      const sim = new GrblFirmware(physics, clock, { family, homeOriginUm: [100_000, 100_000, 500] });
      const [host, fw] = duplexPair();
      sim.attach(fw);
      const ch = new GrblChannel(host, { rxBufferBytes: GRBL_FAMILY_PROFILES[family].rxBufferBytes - 1, replyTimeoutMs: 150 });
      cleanup.push(() => {
        ch.close(new Error('test over'));
        sim.shutdown();
        host.destroy();
      });
      // 30 moves of 1 mm at 10 mm/s (~0.1 s each): lines wait far longer than 150 ms for a free planner block.
      const lines = Array.from({ length: 30 }, () => 'G21G91G1X1F600');
      await Promise.all(lines.map((l) => ch.send(l)));
      await ch.send('G4P0', { timeoutMs: null });
      expect(ch.stats.timeouts).toBe(0);
      expect(sim.received.filter((l) => l === 'G21G91G1X1F600')).toHaveLength(30);
    });
  }
});
