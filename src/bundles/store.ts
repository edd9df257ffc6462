/**
 * The installed model versions under <stateDir>/models:
 *
 *   versions/<name>@<version>/   complete, verified bundles (immutable once renamed into place)
 *   staging/<id>.<pid>/          an install in progress (removed by recovery)
 *   trash/<id>.<pid>/            a version being removed (removed by recovery)
 *   active.json                  which version serves each role (see active-state.ts)
 *   .lock                        pid of the process changing the store
 *
 * Every change is ordered so that a power cut at any instant leaves a store whose active versions are complete and
 * verifiable: files are fsynced before the staging folder is renamed into versions/, versions are renamed into trash/
 * before they are deleted, and active.json is replaced atomically only after the version it names is durable.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../kernel/logger.js';
import { describeActor, type Actor } from '../kernel/actor.js';
import { crashpoint, fsyncDir, mkdirDurable, removeTree, renameDurable, writeFileSynced } from '../kernel/durable-fs.js';
import { readState, withActivation, writeState, type ActiveState } from './active-state.js';
import { readBundle } from './bundle-source.js';
import type { TrustedKey } from './keys.js';
import { bundleId, roleOf, SIGNATURE_FILE, MANIFEST_FILE, type InstallableManifest, type ModelRole } from './manifest.js';
import { BundleRefused, sha256 as createSha, verifyBundle, verifySignedFiles, type VerifiedBundle } from './verify.js';

export interface AuditEntry {
  action: string;
  subject?: string;
  outcome: 'ok' | 'refused' | 'failed';
  actor: Actor;
  details?: Record<string, unknown>;
}

export type Auditor = (e: AuditEntry) => void;

export interface InstalledVersion {
  id: string;
  role: ModelRole;
  dir: string;
  manifest: InstallableManifest;
  manifestSha256: string;
  keyId: string;
  installedAt: Date;
  active: boolean;
}

export interface ActiveModel {
  id: string;
  role: ModelRole;
  dir: string;
  manifest: InstallableManifest;
  manifestSha256: string;
  keyId: string;
}

export interface StoreOptions {
  keep: number;
  trustedKeys: TrustedKey[];
  trustedKeysDir: string;
  audit?: Auditor;
  log?: Logger;
}

export class StoreBusy extends Error {}

export class ModelStore {
  readonly versionsDir: string;
  readonly stagingDir: string;
  readonly trashDir: string;
  readonly statePath: string;
  private readonly lockPath: string;

  constructor(
    readonly root: string,
    private readonly opts: StoreOptions,
  ) {
    this.versionsDir = join(root, 'versions');
    this.stagingDir = join(root, 'staging');
    this.trashDir = join(root, 'trash');
    this.statePath = join(root, 'active.json');
    this.lockPath = join(root, '.lock');
  }

  /** Creates the folders and removes what an interrupted operation left behind. Returns what was cleaned. */
  recover(): string[] {
    for (const d of [this.root, this.versionsDir, this.stagingDir, this.trashDir]) mkdirDurable(d);
    const cleaned: string[] = [];
    const held = this.tryLock();
    if (!held) return cleaned; // Another process is mid-operation: its staging folder is not debris.
    try {
      for (const d of [this.stagingDir, this.trashDir]) {
        for (const n of readdirSync(d)) {
          removeTree(join(d, n));
          cleaned.push(join(d, n));
        }
        if (cleaned.length) fsyncDir(d);
      }
      for (const n of readdirSync(this.root)) {
        if (n.startsWith('active.json.tmp-')) {
          unlinkSync(join(this.root, n));
          cleaned.push(join(this.root, n));
        }
      }
    } finally {
      this.unlock();
    }
    if (cleaned.length) this.opts.log?.info({ cleaned }, 'removed leftovers of an interrupted model operation');
    return cleaned;
  }

  state(): ActiveState {
    const { state, problem } = readState(this.statePath);
    if (problem) this.opts.log?.error({ problem }, 'active model state unreadable; falling back to installed versions');
    return state;
  }

  /** Installed versions (verified cheaply: manifest parse only; use verifyInstalled for the full check). */
  list(): InstalledVersion[] {
    const st = this.state();
    const out: InstalledVersion[] = [];
    if (!existsSync(this.versionsDir)) return out;
    for (const id of readdirSync(this.versionsDir).sort()) {
      const dir = join(this.versionsDir, id);
      try {
        const bytes = readFileSync(join(dir, MANIFEST_FILE));
        const manifest = JSON.parse(bytes.toString('utf8')) as InstallableManifest;
        const sig = JSON.parse(readFileSync(join(dir, SIGNATURE_FILE), 'utf8')) as { keyId: string };
        const sha = createSha(bytes);
        out.push({
          id,
          role: roleOf(manifest),
          dir,
          manifest,
          manifestSha256: sha,
          keyId: sig.keyId,
          installedAt: statSync(dir).mtime,
          active: st.roles[roleOf(manifest)]?.id === id,
        });
      } catch (err) {
        this.opts.log?.warn({ id, err: (err as Error).message }, 'installed version is unreadable; ignored');
      }
    }
    return out;
  }

  /** Full or quick (signature + hashes) verification of an installed version. */
  async verifyInstalled(id: string, runModel: boolean): Promise<VerifiedBundle> {
    const dir = join(this.versionsDir, id);
    if (!existsSync(dir)) throw new BundleRefused('no-manifest', `model ${id} is not installed`);
    const src = readBundle(dir);
    const v = runModel ? await verifyBundle(src, this.verifyOpts()) : verifySignedFiles(src, this.verifyOpts());
    if (bundleId(v.manifest) !== id) throw new BundleRefused('manifest', `folder ${dir} holds ${bundleId(v.manifest)}, not ${id}`);
    return v;
  }

  /**
   * Puts a verified bundle into versions/ and, with `activate`, makes it serve its role. Installing a version that is
   * already there with the same manifest only activates it.
   */
  install(v: VerifiedBundle, actor: Actor, activate = true): { id: string; alreadyInstalled: boolean } {
    const id = bundleId(v.manifest);
    return this.locked(() => {
      const target = join(this.versionsDir, id);
      let alreadyInstalled = false;
      if (existsSync(target)) {
        const existing = createSha(readFileSync(join(target, MANIFEST_FILE)));
        if (existing !== v.manifestSha256) {
          throw new BundleRefused('manifest', `${id} is already installed with different content; give the new bundle a new version`);
        }
        alreadyInstalled = true;
      } else {
        const staging = join(this.stagingDir, `${id}.${process.pid}`);
        mkdirDurable(staging);
        const names = [MANIFEST_FILE, SIGNATURE_FILE, ...v.manifest.files.map((f) => f.path)];
        for (const name of names) {
          const p = join(staging, name);
          mkdirDurable(dirname(p));
          writeFileSynced(p, v.files.get(name)!, 0o644);
        }
        for (const d of new Set(names.map((n) => dirname(join(staging, n))))) fsyncDir(d);
        renameDurable(staging, target);
        this.audit({
          action: 'model.stage',
          subject: id,
          outcome: 'ok',
          actor,
          details: { role: roleOf(v.manifest), keyId: v.key.id, manifestSha256: v.manifestSha256 },
        });
      }
      if (activate) this.activateLocked(id, v.manifest, v.manifestSha256, actor, 'install');
      return { id, alreadyInstalled };
    });
  }

  /** Makes an installed version serve its role, after re-checking its signature and hashes. */
  activate(id: string, actor: Actor, reason = 'activate'): ActiveModel {
    return this.locked(() => {
      const v = this.quickVerify(id);
      this.activateLocked(id, v.manifest, v.manifestSha256, actor, reason);
      return { id, role: roleOf(v.manifest), dir: join(this.versionsDir, id), manifest: v.manifest, manifestSha256: v.manifestSha256, keyId: v.key.id };
    });
  }

  /** Returns `role` to the version active before the current one (skipping rejected and damaged versions). */
  rollback(role: ModelRole, actor: Actor, reason = 'rollback'): { from: string | null; to: string } {
    return this.locked(() => {
      const st = this.state();
      const current = st.roles[role]?.id ?? null;
      const candidates = this.fallbacks(st, role).filter((id) => id !== current);
      for (const id of candidates) {
        let v: VerifiedBundle;
        try {
          v = this.quickVerify(id);
        } catch (err) {
          this.opts.log?.warn({ id, err: (err as Error).message }, 'rollback skips a version that no longer verifies');
          continue;
        }
        const next = current ? { ...st, rejected: [...new Set([...st.rejected, current])] } : st;
        writeState(this.statePath, withActivation(next, role, this.entry(id, v.manifestSha256, actor, reason), this.opts.keep));
        this.audit({ action: 'model.rollback', subject: id, outcome: 'ok', actor, details: { role, from: current, reason } });
        return { from: current, to: id };
      }
      throw new BundleRefused('manifest', `no earlier verified ${role} model to roll back to${current ? ` (active: ${current})` : ''}`);
    });
  }

  /**
   * The version that should serve `role` now: the active one if it still verifies (signature + hashes), else the most
   * recent earlier one that does (recorded as an automatic activation). Null when no installed version verifies.
   */
  resolveActive(role: ModelRole, actor: Actor): ActiveModel | null {
    const st = this.state();
    const current = st.roles[role]?.id;
    const order = [...(current ? [current] : []), ...this.fallbacks(st, role).filter((id) => id !== current)];
    for (const id of order) {
      try {
        const v = this.quickVerify(id);
        if (id !== current) {
          this.opts.log?.error({ role, active: current, using: id }, 'active model missing or damaged; falling back');
          try {
            this.locked(() =>
              writeState(this.statePath, withActivation(this.state(), role, this.entry(id, v.manifestSha256, actor, 'recovery'), this.opts.keep)),
            );
            this.audit({ action: 'model.recover', subject: id, outcome: 'ok', actor, details: { role, previous: current ?? null } });
          } catch (err) {
            if (!(err instanceof StoreBusy)) throw err;
          }
        }
        return { id, role, dir: join(this.versionsDir, id), manifest: v.manifest, manifestSha256: v.manifestSha256, keyId: v.key.id };
      } catch (err) {
        if (err instanceof StoreBusy) throw err;
        this.opts.log?.error({ id, err: (err as Error).message }, 'installed model does not verify');
      }
    }
    return null;
  }

  /** Removes versions beyond `keep` per role: never an active one, and the most recently active ones first kept. */
  prune(role: ModelRole, actor: Actor): string[] {
    return this.locked(() => this.pruneLocked(role, actor));
  }

  private pruneLocked(role: ModelRole, actor: Actor): string[] {
    const st = this.state();
    const all = this.list().filter((v) => v.role === role);
    const rank = (id: string): number => {
      const h = st.history[role]?.indexOf(id) ?? -1;
      return h < 0 ? Number.MAX_SAFE_INTEGER : h;
    };
    const order = all.sort((a, b) => Number(b.active) - Number(a.active) || rank(a.id) - rank(b.id) || b.installedAt.getTime() - a.installedAt.getTime());
    const removed: string[] = [];
    for (const v of order.slice(this.opts.keep)) {
      const trash = join(this.trashDir, `${v.id}.${process.pid}`);
      renameDurable(v.dir, trash);
      removeTree(trash);
      removed.push(v.id);
    }
    if (removed.length) {
      fsyncDir(this.trashDir);
      this.audit({ action: 'model.prune', subject: removed.join(','), outcome: 'ok', actor, details: { role, keep: this.opts.keep } });
    }
    return removed;
  }

  private activateLocked(id: string, manifest: InstallableManifest, manifestSha256: string, actor: Actor, reason: string): void {
    const st = this.state();
    const role = roleOf(manifest);
    const previous = st.roles[role]?.id ?? null;
    writeState(this.statePath, withActivation(st, role, this.entry(id, manifestSha256, actor, reason), this.opts.keep));
    this.audit({ action: 'model.activate', subject: id, outcome: 'ok', actor, details: { role, previous, reason } });
    this.pruneLocked(role, actor);
  }

  private entry(id: string, manifestSha256: string, actor: Actor, reason: string) {
    return { id, manifestSha256, activatedAt: new Date().toISOString(), by: describeActor(actor), reason };
  }

  /** Earlier versions of `role` a fallback may use: activation history first, then other installed ones, newest first. */
  private fallbacks(st: ActiveState, role: ModelRole): string[] {
    const installed = this.list().filter((v) => v.role === role);
    const ids = new Set(installed.map((v) => v.id));
    const hist = (st.history[role] ?? []).filter((id) => ids.has(id));
    const rest = installed
      .filter((v) => !hist.includes(v.id))
      .sort((a, b) => b.installedAt.getTime() - a.installedAt.getTime())
      .map((v) => v.id);
    return [...hist, ...rest].filter((id) => !st.rejected.includes(id) || id === st.roles[role]?.id);
  }

  private quickVerify(id: string): VerifiedBundle {
    const dir = join(this.versionsDir, id);
    if (!existsSync(dir))
      throw new BundleRefused(
        'no-manifest',
        `model ${id} is not installed (installed: ${
          this.list()
            .map((v) => v.id)
            .join(', ') || 'none'
        })`,
      );
    const v = verifySignedFiles(readBundle(dir), this.verifyOpts());
    if (bundleId(v.manifest) !== id) throw new BundleRefused('manifest', `folder ${dir} holds ${bundleId(v.manifest)}, not ${id}`);
    return v;
  }

  private verifyOpts() {
    return { trustedKeys: this.opts.trustedKeys, trustedKeysDir: this.opts.trustedKeysDir };
  }

  private audit(e: AuditEntry): void {
    crashpoint(`audit ${e.action}`);
    this.opts.audit?.(e);
  }

  private locked<T>(fn: () => T): T {
    mkdirDurable(this.root);
    if (!this.tryLock()) {
      let pid = '?';
      try {
        pid = readFileSync(this.lockPath, 'utf8').trim();
      } catch {
        // Released meanwhile.
      }
      throw new StoreBusy(`another model operation is running (pid ${pid}); try again when it has finished`);
    }
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  private lockDepth = 0;

  /** O_EXCL lock file holding our pid; a lock whose process is gone (kill -9) is taken over. */
  private tryLock(): boolean {
    if (this.lockDepth > 0) {
      this.lockDepth++;
      return true;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        crashpoint('lock taken');
        this.lockDepth = 1;
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSyncSafe(this.lockPath).trim());
        if (pid && pid !== process.pid && isAlive(pid)) return false;
        try {
          unlinkSync(this.lockPath);
        } catch {
          // Someone else removed it first.
        }
      }
    }
    return false;
  }

  private unlock(): void {
    if (--this.lockDepth > 0) return;
    this.lockDepth = 0;
    try {
      unlinkSync(this.lockPath);
    } catch {
      // Already gone.
    }
  }
}

function readFileSyncSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
