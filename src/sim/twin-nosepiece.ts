import type { Clock } from '../kernel/clock.js';
import type { Nosepiece } from '../camera/nosepiece.js';
import type { TwinWorld } from './world.js';

/** The twin's motorised turret: changing objectives takes `objectiveChangeMs` of instrument time. */
export class TwinNosepiece implements Nosepiece {
  readonly objectives: readonly string[];

  constructor(
    private readonly world: TwinWorld,
    private readonly clock: Clock,
  ) {
    this.objectives = world.spec.objectives.map((o) => o.name);
  }

  current(): string {
    return this.world.currentObjective().name;
  }

  async select(name: string, signal?: AbortSignal): Promise<void> {
    this.world.objective(name);
    if (name === this.current()) return;
    await this.clock.sleep(this.world.spec.objectiveChangeMs, signal);
    this.world.setObjective(name);
  }
}
