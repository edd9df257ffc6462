/**
 * Builds the Stage for real hardware from the `stage` config section. The twin's stage comes from
 * `createTwinStage()` (src/sim/firmware/twin-serial-stage.ts); the composition root chooses between them.
 */
import type { Clock } from '../kernel/clock.js';
import type { Logger } from '../kernel/logger.js';
import { checkStageConfig, type StageConfig } from './config.js';
import { GrblStage } from './grbl/driver.js';
import { ProScanStage } from './proscan/driver.js';
import type { SerialStage } from './serial-stage.js';
import { serialTransport, type Transport } from './transport.js';

export interface StageFactoryDeps {
  clock: Clock;
  logger: Logger;
  /** Replaces the serial port (tests, the twin). */
  transport?: Transport;
}

export function createStage(config: StageConfig, deps: StageFactoryDeps): SerialStage {
  checkStageConfig(config);
  const transport = deps.transport ?? serialTransport(config.port, config.baudRate);
  const logger = deps.logger.child({ module: 'stage', driver: config.driver });
  switch (config.driver) {
    case 'grbl':
      return new GrblStage(config, { transport, clock: deps.clock, logger });
    case 'proscan':
      return new ProScanStage(config, { transport, clock: deps.clock, logger });
    default:
      throw new RangeError(`stage.driver "${config.driver}" is the digital twin: build it with createTwinStage(world, clock, …)`);
  }
}
