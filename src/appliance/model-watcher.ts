/**
 * Notices when `smartscope model install|activate|rollback` (another process, usually over SSH) changed which version
 * serves a role, and hot-swaps the daemon's slot. A version that arrives by install or activate goes on probation;
 * if it degrades or fails to load, the watcher rolls the role back and swaps to the restored version.
 *
 * Polling models/active.json (a few hundred bytes) is used instead of inotify: it also works when the state folder
 * is replaced wholesale, and costs nothing at a one-second interval.
 */
import type { ModelRole } from '../bundles/manifest.js';
import type { LoadedModel, ModelSlot } from '../bundles/model-slot.js';
import type { ModelStore } from '../bundles/store.js';
import type { Records } from '../records/records.js';
import { daemonActor } from '../kernel/actor.js';
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from '../ops/metrics.js';

export class ModelWatcher<M extends LoadedModel> {
  private timer: NodeJS.Timeout | null = null;
  private seen = new Map<ModelRole, string>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: ModelStore,
    private readonly slots: Map<ModelRole, ModelSlot<M>>,
    private readonly newSlot: (role: ModelRole) => ModelSlot<M>,
    private readonly intervalMs: number,
    private readonly records: Records,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const st = store.state();
    for (const [role, e] of Object.entries(st.roles)) if (e) this.seen.set(role as ModelRole, `${e.id}|${e.activatedAt}`);
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One look at active.json; swaps the roles whose entry changed. */
  check(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const st = this.store.state();
    for (const [r, e] of Object.entries(st.roles)) {
      const role = r as ModelRole;
      if (!e) continue;
      const key = `${e.id}|${e.activatedAt}`;
      if (this.seen.get(role) === key) continue;
      this.seen.set(role, key);
      const slot = this.slots.get(role) ?? this.newSlot(role);
      this.slots.set(role, slot);
      if (slot.current?.id === e.id) continue;
      const active = this.store.resolveActive(role, daemonActor());
      if (!active) {
        this.log.error({ role, id: e.id }, 'newly activated model does not verify; keeping the current one');
        continue;
      }
      const probation = e.reason === 'install' || e.reason === 'activate';
      this.log.info({ role, from: slot.current?.id ?? null, to: active.id, by: e.by, reason: e.reason }, 'active model changed; swapping');
      try {
        await slot.swapTo(active, probation);
        registerActiveModel(this.records, active, role);
        this.records.audit({ action: 'model.swap', subject: active.id, outcome: 'ok', actor: daemonActor(), details: { role, probation, activatedBy: e.by } });
      } catch (err) {
        const reason = `failed to load: ${(err as Error).message}`;
        this.records.audit({ action: 'model.swap', subject: active.id, outcome: 'failed', actor: daemonActor(), details: { role, reason } });
        this.log.error({ role, id: active.id, err: (err as Error).message }, 'model swap failed; the previous model keeps serving');
        if (probation) await this.rollback(role, active.id, reason);
      }
    }
  }

  /** Rolls `role` back from `badId` (probation failed or load failed) and swaps to the restored version. */
  async rollback(role: ModelRole, badId: string, reason: string): Promise<void> {
    const slot = this.slots.get(role);
    try {
      const r = this.store.rollback(role, daemonActor(), `automatic: ${reason}`);
      this.metrics.modelRollbacks.inc({ role });
      const st = this.store.state().roles[role];
      if (st) this.seen.set(role, `${st.id}|${st.activatedAt}`);
      const active = this.store.resolveActive(role, daemonActor());
      if (active && slot && slot.current?.id !== active.id) await slot.swapTo(active, false);
      this.log.warn({ role, from: badId, to: r.to, reason }, 'model rolled back automatically');
    } catch (err) {
      this.records.audit({
        action: 'model.rollback',
        subject: badId,
        outcome: 'failed',
        actor: daemonActor(),
        details: { role, reason, error: (err as Error).message },
      });
      this.log.error({ role, id: badId, err: (err as Error).message }, 'automatic rollback failed');
    }
  }
}

/** Records which bundle now serves a role (the records' model table), as the daemon's start-up and swaps do. */
export function registerActiveModel(
  records: Pick<Records, 'registerModel'>,
  active: { id: string; manifest: { name: string; version: string }; manifestSha256: string; keyId: string },
  role: string,
): void {
  records.registerModel({
    id: active.id,
    name: active.manifest.name,
    version: active.manifest.version,
    role,
    manifestSha256: active.manifestSha256,
    keyId: active.keyId,
  });
}
