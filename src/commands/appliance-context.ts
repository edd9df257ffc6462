/**
 * What the model and records commands share: the config, the records database, the model store, trusted keys and
 * who is acting. When run as root (sudo), the commands act as the owner of the state folder, so every file they
 * create (models, records.db-wal) stays usable by the daemon's user.
 */
import type { Command } from 'commander';
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { loadTrustedKeys, type TrustedKey } from '../bundles/keys.js';
import { loadManifestSchema } from '../bundles/manifest.js';
import { packageVersion } from '../kernel/paths.js';
import { ModelStore } from '../bundles/store.js';
import type { Config } from '../config/schema.js';
import { currentActor, type Actor } from '../kernel/actor.js';
import { statePaths, type StatePaths } from '../ops/state-paths.js';
import { Records } from '../records/records.js';
import { loadConfig } from './config.js';

export interface ApplianceContext {
  config: Config;
  paths: StatePaths;
  actor: Actor;
  records: Records;
  store: ModelStore;
  trustedKeys: TrustedKey[];
  keyProblems: string[];
  close(): void;
}

/** Switches to the state folder's owner when running as root and the folder belongs to someone else. */
export function actAsStateOwner(stateDir: string): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  let st;
  try {
    st = statSync(stateDir);
  } catch {
    return; // Not created yet (first install): root creates it; scripts/install fixes ownership.
  }
  if (st.uid === 0) return;
  // Read what the commands need from the program's own folder while still root: it may not be readable by the
  // service account (a development checkout in root's home or in a private temporary folder).
  new Database(':memory:').close(); // better-sqlite3 loads its addon on first use
  packageVersion();
  loadManifestSchema();
  process.setgroups?.([st.gid]);
  process.setgid?.(st.gid);
  process.setuid?.(st.uid);
}

export function openApplianceContext(program: Command): ApplianceContext {
  const config = loadConfig(program);
  const paths = statePaths(config.appliance.stateDir);
  actAsStateOwner(paths.root);
  const actor = currentActor();
  const records = Records.open({ path: paths.recordsDb, busyTimeoutMs: config.records.busyTimeoutMs });
  const { keys, problems } = loadTrustedKeys(config.models.trustedKeysDir);
  const store = new ModelStore(paths.models, {
    keep: config.models.keep,
    trustedKeys: keys,
    trustedKeysDir: config.models.trustedKeysDir,
    audit: (e) => records.audit(e),
  });
  store.recover();
  return { config, paths, actor, records, store, trustedKeys: keys, keyProblems: problems, close: () => records.close() };
}
