/** Where the appliance keeps its state, all under appliance.stateDir (systemd's StateDirectory=). */
import { join } from 'node:path';

export interface StatePaths {
  root: string;
  models: string;
  recordsDb: string;
  images: string;
}

export function statePaths(stateDir: string): StatePaths {
  return { root: stateDir, models: join(stateDir, 'models'), recordsDb: join(stateDir, 'records.db'), images: join(stateDir, 'images') };
}
