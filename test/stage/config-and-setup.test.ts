// The `stage` config section, the hardware factory, unit and direction mapping, controller settings checks, the
// serial-port listing guard, and the twin's clock behaviour over a pty.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { SimClock } from '../../src/kernel/clock.js';
import { createStage } from '../../src/stage/factory.js';
import { parseStageConfig } from '../../src/stage/config.js';
import { listSerialPorts, serialTransport } from '../../src/stage/transport.js';
import { grblSim, makeRig, outcome } from '../support/stage-rigs.js';

describe('stage config', () => {
  it('has defaults for everything, and the twin drives GRBL over a stream unless told otherwise', () => {
    const c = parseConfig({}).stage as ReturnType<typeof parseStageConfig>;
    expect(c.driver).toBe('twin');
    expect(c.twin).toEqual({ protocol: 'grbl', transport: 'stream' });
    expect(c.pollHz).toBe(5);
    expect(c.afterReconnect).toBe('reread');
    expect(c.axes.x).toEqual({ stepsPerUm: 1, direction: 1, originUm: 0, minUm: 0, maxUm: 100_000 });
  });

  it('names the field, the value and what was expected', () => {
    expect(() => parseConfig({ stage: { pollHz: 10 } })).toThrow(
      '  - stage.pollHz: 10 — expected a number <= 5 Hz (Status polls per second while the stage moves (at most 5, so the serial line stays free))',
    );
    expect(() => parseConfig({ stage: { axes: { x: { direction: 2 } } } })).toThrow('stage.axes.x.direction: 2 — expected one of 1, -1');
    expect(() => parseConfig({ stage: { driver: 'ludl' } })).toThrow('stage.driver: "ludl" — expected one of "twin", "grbl", "proscan"');
    expect(() => parseConfig({ stage: { speed: 3 } })).toThrow('stage.speed: 3 — expected no such setting here (unknown key "speed"');
    expect(() => parseStageConfig({ driver: 'proscan', axes: { y: { stepsPerUm: 2 } } })).toThrow(
      '  - stage.axes.y.stepsPerUm: 2 — expected the same as stage.axes.x.stepsPerUm (1): ProScan sets one resolution for X and Y (RES,s)',
    );
    expect(() => parseStageConfig({ axes: { z: { minUm: 5, maxUm: 5 } } })).toThrow(
      '  - stage.axes.z.maxUm: 5 — expected a number > stage.axes.z.minUm (5) µm',
    );
  });

  it('createStage builds the hardware drivers and sends the twin to its own factory', () => {
    const deps = { clock: new SimClock(), logger: silentLogger() };
    expect(createStage(parseStageConfig({ driver: 'grbl', port: '/dev/ttyACM0' }), deps).id).toBe('grbl:/dev/ttyACM0 at 115200 baud');
    expect(createStage(parseStageConfig({ driver: 'proscan', baudRate: 9600 }), deps).id).toBe('proscan:/dev/ttyUSB0 at 9600 baud');
    expect(() => createStage(parseStageConfig({}), deps)).toThrow('stage.driver "twin" is the digital twin: build it with createTwinStage(world, clock, …)');
  });
});

describe('serial ports', () => {
  it('lists ports without udevadm (serialport.list() would crash the process)', async () => {
    const ports = await listSerialPorts();
    expect(Array.isArray(ports)).toBe(true);
  });

  it('a missing device fails to open with a typed error naming the path', async () => {
    const e = await outcome(serialTransport('/dev/smartscope-no-such-tty', 115200).open());
    expect(e.error?.code).toBe('OPEN_FAILED');
    expect(e.error?.message).toMatch(/^cannot open stage port \/dev\/smartscope-no-such-tty: .+; (serial ports present: .+|no serial ports found)$/);
  });
});

describe('controller settings and axis mapping', () => {
  it('GRBL steps/mm that disagree with the config refuse to run, or are written when allowed', async () => {
    const refuse = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), {
      config: { axes: { x: { stepsPerUm: 2 } } },
      grbl: { stepsPerMm: [1000, 1000, 10000] },
    });
    try {
      const e = await outcome(refuse.stage.connect());
      expect(e.error).toMatchObject({
        code: 'CONFIG',
        message: 'GRBL $100 (x steps/mm) is 1000.000 but stage.axes.x.stepsPerUm 2 means 2000.000; fix the config or set stage.grbl.writeSettings',
      });
      expect(refuse.stage.state).toBe('disconnected');
    } finally {
      await refuse.close();
    }
    const write = await makeRig({ protocol: 'grbl', transport: 'stream' }, new SimClock(), {
      config: { axes: { x: { stepsPerUm: 2 } }, grbl: { writeSettings: true } },
      grbl: { stepsPerMm: [1000, 1000, 10000], statusMask: 1 },
    });
    try {
      await write.stage.connect();
      expect(grblSim(write).settings.get(100)).toBe(2000);
      expect(grblSim(write).settings.get(10)).toBe(3);
      expect(grblSim(write).received).toContain('$100=2000');
    } finally {
      await write.close();
    }
  });

  it('a reversed axis with an origin maps stage µm onto the controller’s counts both ways', async () => {
    for (const protocol of ['grbl', 'proscan'] as const) {
      const r = await makeRig({ protocol, transport: 'stream' }, new SimClock(), {
        config: { axes: { x: { direction: -1, originUm: 0 } } },
        grbl: { invert: { x: true } },
        proscan: { invert: { x: true } },
      });
      try {
        await r.stage.connect();
        const p = await r.stage.moveTo({ x: 5000, y: 100 });
        expect(p.x).toBeCloseTo(5000, 6);
        expect(r.physics.commandedAt(r.clock.now())[0]).toBeCloseTo(5000, 6);
        expect(r.simulator!.received).toContain(protocol === 'grbl' ? 'G21G90G53G0X-5Y-99.9' : 'G,-5000,100');
      } finally {
        await r.close();
      }
    }
  });
});

describe('the twin’s clock over a pty', () => {
  it('a command whose answer waits for the motion reaches the controller before instrument time jumps', async () => {
    // $H is answered only when homing ends; without the driver holding the clock while it is on the wire, SimClock
    // would jump to the homing time-out before the controller even read it.
    const r = await makeRig({ protocol: 'grbl', transport: 'pty' }, new SimClock(), { config: { homingTimeoutS: 4 } });
    try {
      await r.stage.connect();
      for (let i = 0; i < 5; i++) {
        await r.stage.moveTo({ x: 20_000 + i * 1000, y: 10_000 });
        const t0 = r.clock.now();
        const home = await r.stage.home();
        expect(home).toEqual({ x: 0, y: 0, z: 500 });
        expect(r.clock.now() - t0).toBeLessThan(4000);
      }
    } finally {
      await r.close();
    }
  });

  it('what the camera sees follows the move commanded over the wire', async () => {
    const r = await makeRig({ protocol: 'proscan', transport: 'pty' }, new SimClock());
    try {
      await r.stage.connect();
      const seen: number[] = [];
      r.stage.on('state', () => seen.push(r.physics.physicalAt(r.clock.now())[0]));
      await r.stage.moveTo({ x: 30_000 });
      // The carriage trails the counters by half the drive's play (backlash 1.5 µm).
      expect(Math.abs(r.physics.physicalAt(r.clock.now())[0] - 30_000)).toBeLessThanOrEqual(0.75 + 1e-9);
      expect(seen[0]).toBeLessThan(1);
    } finally {
      await r.close();
    }
  });
});
