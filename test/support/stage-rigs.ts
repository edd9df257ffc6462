// Builds the twin's stage in every flavour the tests run: protocol (grbl, proscan, direct) × link (stream, pty) on a
// fresh copy of the default stage physics.
import type { Clock } from '../../src/kernel/clock.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import type { GrblFirmware } from '../../src/sim/firmware/grbl.js';
import type { GrblFamily } from '../../src/sim/firmware/grbl-families.js';
import type { ProScanFirmware } from '../../src/sim/firmware/proscan.js';
import { createTwinStage, type TwinStageOptions, type TwinStageRig } from '../../src/sim/firmware/twin-serial-stage.js';
import { StagePhysics } from '../../src/sim/stage-physics.js';
import type { Stage } from '../../src/stage/stage.js';

export interface RigKind {
  name: string;
  protocol: 'grbl' | 'proscan' | 'direct';
  transport: 'stream' | 'pty';
  /** GRBL family the simulator behaves as (default gnea Grbl 1.1h). */
  family?: GrblFamily;
}

export const RIG_KINDS: RigKind[] = [
  { name: 'GRBL over an in-process stream', protocol: 'grbl', transport: 'stream' },
  { name: 'GRBL over a pty (serialport)', protocol: 'grbl', transport: 'pty' },
  { name: 'ProScan over an in-process stream', protocol: 'proscan', transport: 'stream' },
  { name: 'ProScan over a pty (serialport)', protocol: 'proscan', transport: 'pty' },
  { name: 'TwinStage (no protocol)', protocol: 'direct', transport: 'stream' },
  { name: 'grblHAL over an in-process stream', protocol: 'grbl', transport: 'stream', family: 'grblhal' },
  { name: 'grblHAL over a pty (serialport)', protocol: 'grbl', transport: 'pty', family: 'grblhal' },
  { name: 'FluidNC over an in-process stream', protocol: 'grbl', transport: 'stream', family: 'fluidnc' },
  { name: 'Grbl_ESP32 over an in-process stream', protocol: 'grbl', transport: 'stream', family: 'grbl-esp32' },
];

export interface TestRig extends TwinStageRig<Stage & { stats?(): Record<string, number> }> {
  physics: StagePhysics;
  clock: Clock;
}

export async function makeRig(kind: Pick<RigKind, 'protocol' | 'transport' | 'family'>, clock: Clock, extra: Partial<TwinStageOptions> = {}): Promise<TestRig> {
  const physics = new StagePhysics(structuredClone(defaultWorldSpec().stage), [0, 0, 0]);
  const grbl = kind.family ? { family: kind.family, ...extra.grbl } : extra.grbl;
  const rig = await createTwinStage({ physics }, clock, { protocol: kind.protocol, transport: kind.transport, ...extra, grbl });
  return Object.assign(rig, { physics, clock });
}

export function grblSim(rig: TwinStageRig): GrblFirmware {
  return rig.simulator as GrblFirmware;
}

export function proscanSim(rig: TwinStageRig): ProScanFirmware {
  return rig.simulator as ProScanFirmware;
}

/** Resolves when the stage enters `state`. */
export function nextState(stage: Stage, state: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string): void => {
      if (s === state) {
        stage.off('state', on);
        resolve();
      }
    };
    stage.on('state', on);
  });
}

/** Settles a promise into a value or its error, so a test can assert on a rejection that happens later. */
export function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: Error & Record<string, unknown> }> {
  return p.then(
    (value) => ({ value }),
    (error: Error & Record<string, unknown>) => ({ error }),
  );
}
