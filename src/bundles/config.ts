/**
 * Config section `models`: where trusted signing keys live, how many installed versions are kept, and the probation
 * that watches a newly activated model and rolls it back when it degrades.
 */
import { absPath, int, num, obj, type Schema } from '../kernel/schema-kit.js';

export const modelsSchema: Schema = obj('Model bundles: signature keys, versions kept, probation after an update.', {
  trustedKeysDir: absPath('Folder of trusted ed25519 public keys (*.pub, PEM). Only bundles signed by one of them install.', '/etc/smartscope/trusted-keys'),
  keep: int('Installed versions kept per role (the active one plus those a rollback can return to); older ones are removed.', 3, 2, 20),
  warmupRuns: int('Inferences run on a new model before it takes over from the old one.', 2, 0, 100),
  watchIntervalMs: int('How often the daemon checks whether another process (`smartscope model …`) changed the active model.', 1000, 100, 60_000, 'ms'),
  probation: obj('Health watch after a model update. If the new model degrades, the previous one is restored automatically.', {
    durationS: num('Length of the probation; 0 turns automatic rollback off.', 300, 0, 86_400, 's'),
    minFrames: int('Inferences needed before the model can be judged.', 20, 1, 1_000_000),
    maxErrorRate: num('Largest tolerated fraction of failed inferences.', 0.02, 0, 1),
    maxLatencyRatio: num('Largest tolerated p95 latency relative to the previous model’s.', 2, 1, 100),
    minDetectionRatio: num('Smallest tolerated detections-per-frame relative to the previous model’s.', 0.25, 0, 1),
    maxDetectionRatio: num('Largest tolerated detections-per-frame relative to the previous model’s.', 4, 1, 1000),
  }),
});

export interface ProbationConfig {
  durationS: number;
  minFrames: number;
  maxErrorRate: number;
  maxLatencyRatio: number;
  minDetectionRatio: number;
  maxDetectionRatio: number;
}

export interface ModelsConfig {
  trustedKeysDir: string;
  keep: number;
  warmupRuns: number;
  watchIntervalMs: number;
  probation: ProbationConfig;
}
