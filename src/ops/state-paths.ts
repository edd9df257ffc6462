/** Where the appliance keeps its state, all under appliance.stateDir (systemd's StateDirectory=). */
import { join } from 'node:path';

export interface StatePaths {
  root: string;
  models: string;
  recordsDb: string;
  images: string;
  /** The daemon's local control socket (`smartscope scan …`). */
  controlSocket: string;
}

export function statePaths(stateDir: string): StatePaths {
  return {
    root: stateDir,
    models: join(stateDir, 'models'),
    recordsDb: join(stateDir, 'records.db'),
    images: join(stateDir, 'images'),
    controlSocket: join(stateDir, 'control.sock'),
  };
}
