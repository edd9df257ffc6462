// Runs the Stage contract against every adapter: GRBL and ProScan drivers × (in-process stream, pty through socat and
// serialport), the GRBL family members grblHAL, FluidNC and Grbl_ESP32, and the protocol-less TwinStage, under the
// twin's SimClock; the pty drivers once more under RealClock.
import { RealClock, SimClock, type Clock } from '../../src/kernel/clock.js';
import { stageContract } from '../contracts/stage.contract.js';
import { makeRig, RIG_KINDS, type RigKind } from '../support/stage-rigs.js';

function subject(kind: RigKind, clock: () => Clock) {
  return async () => {
    const rig = await makeRig(kind, clock());
    return {
      stage: rig.stage,
      clock: rig.clock,
      physics: rig.physics,
      commandsReceived: rig.simulator ? () => rig.simulator!.received.length : undefined,
      close: () => rig.close(),
    };
  };
}

// GRBL reports positions in whole µm (mm with 3 decimals); ProScan in counts of 1 µm (XY) and 0.1 µm (Z).
for (const kind of RIG_KINDS) {
  stageContract(
    `${kind.name}, SimClock`,
    subject(kind, () => new SimClock()),
    { stepUm: 5000, tolUm: 1.5 },
  );
}
for (const kind of RIG_KINDS.filter((k) => k.transport === 'pty')) {
  stageContract(
    `${kind.name}, RealClock`,
    subject(kind, () => new RealClock()),
    { stepUm: 400, tolUm: 1.5 },
  );
}
