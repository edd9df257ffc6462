/**
 * The appliance daemon's lifecycle (`smartscope run`), independent of which adapters it runs: the composition root
 * (src/app.ts) hands in factories for the camera, stage, event sink, model loader and pipeline.
 *
 * Start order: records → health endpoint → model store recovery → camera → stage → event sink (its broker
 * connection is attempted, not awaited) → models loaded and warmed → pipeline → READY=1. Only then is the watchdog
 * fed, and only while the pipeline makes progress (watchdog.ts). On SIGTERM: STOPPING=1, then the reverse order.
 */
import type { FrameSource } from '../camera/frame-source.js';
import type { Config } from '../config/schema.js';
import { loadTrustedKeys } from '../bundles/keys.js';
import type { ModelRole } from '../bundles/manifest.js';
import { ModelSlot, type LoadedModel, type ModelLoader } from '../bundles/model-slot.js';
import { ModelStore } from '../bundles/store.js';
import { ImageStore } from '../records/images.js';
import { Records } from '../records/records.js';
import { WebPage } from '../web/page.js';
import type { Stage } from '../stage/stage.js';
import type { DeviceState } from '../publish/payloads.js';
import { daemonActor } from '../kernel/actor.js';
import { AuditRelay, type AuditPublisher } from './audit-relay.js';
import { ControlServer } from '../ops/control-socket.js';
import { HealthServer, type HealthCheck, type HealthReport } from '../ops/health-server.js';
import type { Logger } from '../kernel/logger.js';
import { Metrics } from '../ops/metrics.js';
import { ModelWatcher, registerActiveModel } from './model-watcher.js';
import type { Notifier } from '../ops/notifier.js';
import { packageVersion } from '../kernel/paths.js';
import { statePaths } from '../ops/state-paths.js';
import { Heartbeat, WatchdogFeeder, watchdogIntervalMs } from './watchdog.js';

/** The parts of the event sink the lifecycle uses (src/publish's EventSink satisfies it). */
export interface EventsPort extends AuditPublisher {
  health(): { connected: boolean; brokerConfigured?: boolean; pendingEvents: number };
  /** The retained device status (starting → idle ⇄ scanning … → stopping; close() publishes stopped). */
  state?(s: DeviceState): Promise<void>;
  close(): Promise<void>;
}

/** What the pipeline reports about its work for the device status; the appliance adds starting/stopping. */
export type PipelineState = Omit<DeviceState, 'state' | 'models'> & { state: 'idle' | 'scanning' | 'paused' | 'faulted' | 'aborting' };

export interface PipelineContext<M extends LoadedModel> {
  config: Config;
  log: Logger;
  camera: FrameSource;
  stage: Stage;
  events: EventsPort | null;
  models: Map<ModelRole, ModelSlot<M>>;
  /** Bump on every step of progress (frame, move, idle-loop turn): it is what feeds the systemd watchdog. */
  heartbeat: Heartbeat;
  metrics: Metrics;
  records: Records;
  images: ImageStore;
  /** The local control socket: register the commands `smartscope scan …` sends. */
  control: ControlServer;
  /** Reports what the pipeline is doing (idle, scanning, paused …): published once the appliance is ready. */
  status(s: PipelineState): void;
  /** The local web page, when served: the scan's devices and ports go through `web.view.deps()`. */
  web?: WebPage | null;
}

/** The work the daemon does once started (the scan engine). */
export interface Pipeline<M extends LoadedModel> {
  /** Roles that must have a verified model before the daemon reports READY. */
  readonly requiredRoles: readonly ModelRole[];
  /** Starts the work; resolves once it runs. */
  start(ctx: PipelineContext<M>): Promise<void>;
  /** Finishes or aborts the current step and stops; resolves when nothing runs any more. */
  stop(): Promise<void>;
}

export interface ApplianceParts<M extends LoadedModel> {
  camera(): FrameSource | Promise<FrameSource>;
  stage(): Stage | Promise<Stage>;
  /** Creating the sink starts its broker connection attempt; the daemon does not wait for the broker. */
  events?(): EventsPort | Promise<EventsPort>;
  modelLoader: ModelLoader<M>;
  pipeline(): Pipeline<M>;
}

export type Phase = 'starting' | 'ready' | 'stopping' | 'stopped';

export class Appliance<M extends LoadedModel> {
  readonly metrics = new Metrics();
  readonly heartbeat = new Heartbeat();
  phase: Phase = 'starting';
  private records?: Records;
  private images?: ImageStore;
  private control?: ControlServer;
  private store?: ModelStore;
  private health?: HealthServer;
  private web?: WebPage;
  private camera?: FrameSource;
  private stage?: Stage;
  private events: EventsPort | null = null;
  private pipeline?: Pipeline<M>;
  private readonly slots = new Map<ModelRole, ModelSlot<M>>();
  private watchdog?: WatchdogFeeder;
  private watcher?: ModelWatcher<M>;
  private relay?: AuditRelay;
  private retention?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private pipelineState: PipelineState = { state: 'idle' };
  private step = 'not started';
  healthAddress?: { address: string; port: number };
  private readonly log: Logger;

  /** @param root the process's root logger: every module gets its own child of it. */
  constructor(
    private readonly config: Config,
    private readonly parts: ApplianceParts<M>,
    private readonly root: Logger,
    private readonly notifier: Notifier,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.log = root.child({ module: 'appliance' });
  }

  private async status(text: string): Promise<void> {
    this.step = text;
    this.log.info({ step: text }, 'start-up');
    void this.notifier.notify({ STATUS: text });
  }

  async start(): Promise<void> {
    const c = this.config;
    const paths = statePaths(c.appliance.stateDir);
    const actor = daemonActor();
    await this.status('opening records');
    this.records = Records.open({ path: paths.recordsDb, busyTimeoutMs: c.records.busyTimeoutMs });
    const records = this.records;
    this.images = new ImageStore(paths.images, records);
    this.control = new ControlServer(
      paths.controlSocket,
      this.root.child({ module: 'control' }),
      (actor, command, args, outcome, detail) => records.command(actor, command, args, outcome, detail),
      () => (this.phase === 'starting' ? this.step : null),
    );
    await this.control.listen();
    this.control.handle('status', () => this.report());
    const unfinished = records.unfinishedScans();
    if (unfinished.length) this.log.warn({ scans: unfinished.map((s) => s.id) }, 'scans interrupted by the last shutdown; the scan engine resumes them');
    this.metrics.setProviders({ stateDir: paths.root, outboxDepth: () => this.events?.health().pendingEvents ?? 0 });
    if (c.health.enabled) {
      await this.status('starting health endpoint');
      this.health = new HealthServer(this.metrics, () => this.report(), this.root.child({ module: 'health' }));
      const a = await this.health.listen(c.health.host, c.health.port);
      this.healthAddress = { address: a.address, port: a.port };
    }
    if (c.web.enabled) {
      await this.status('starting web page');
      const web = new WebPage(c.web, this.root.child({ module: 'web' }));
      // The page is for people; a port clash is logged and the inspection goes on without it.
      await web.listen({ records, servedRoots: [paths.root], control: this.control, status: () => this.report() }).then(
        () => (this.web = web),
        (err: Error) => this.log.error({ err: err.message, host: c.web.host, port: c.web.port }, 'web page not served'),
      );
    }
    await this.status('checking installed models');
    const keys = loadTrustedKeys(c.models.trustedKeysDir);
    for (const p of keys.problems) this.log.warn({ problem: p }, 'trusted key skipped');
    this.store = new ModelStore(paths.models, {
      keep: c.models.keep,
      trustedKeys: keys.keys,
      trustedKeysDir: c.models.trustedKeysDir,
      audit: (e) => records.audit(e),
      log: this.root.child({ module: 'models' }),
    });
    this.store.recover();
    await this.status('opening camera');
    this.camera = await this.parts.camera();
    if (this.camera.state !== 'open') await this.camera.open();
    await this.status('connecting stage');
    this.stage = await this.parts.stage();
    await this.stage.connect();
    if (this.parts.events) {
      await this.status('connecting to the broker');
      this.events = await this.parts.events();
    }
    this.pipeline = this.parts.pipeline();
    await this.status('loading models');
    const installedRoles = new Set(this.store.list().map((v) => v.role));
    for (const role of new Set<ModelRole>([...this.pipeline.requiredRoles, ...installedRoles])) {
      const active = this.store.resolveActive(role, actor);
      if (!active) {
        if (this.pipeline.requiredRoles.includes(role)) {
          throw new Error(`no verified ${role} model is installed in ${paths.models}: install one with \`smartscope model install BUNDLE\``);
        }
        continue;
      }
      const slot = this.newSlot(role);
      await slot.swapTo(active, false);
      registerActiveModel(records, active, role);
      this.slots.set(role, slot);
    }
    await this.status('starting pipeline');
    await this.pipeline.start({
      config: c,
      log: this.root.child({ module: 'pipeline' }),
      camera: this.camera,
      stage: this.stage,
      events: this.events,
      models: this.slots,
      heartbeat: this.heartbeat,
      metrics: this.metrics,
      records,
      images: this.images,
      control: this.control,
      status: (st) => {
        this.pipelineState = { ...st };
        if (this.phase === 'ready') this.publishState();
      },
      web: this.web ?? null,
    });
    this.phase = 'ready';
    this.publishState();
    this.step = 'running';
    void this.notifier.notify({ READY: 1, STATUS: `running; models ${[...this.slots.values()].map((s) => s.current?.id).join(', ') || 'none'}` });
    this.log.info({ health: this.healthAddress, models: Object.fromEntries([...this.slots].map(([r, s]) => [r, s.current?.id])) }, 'ready');
    const wd = watchdogIntervalMs(this.env);
    if (wd) {
      this.watchdog = new WatchdogFeeder(this.notifier, this.heartbeat, wd, this.root.child({ module: 'watchdog' }), () => this.metrics.watchdogStalls.inc());
      this.watchdog.start();
    }
    this.watcher = new ModelWatcher(
      this.store,
      this.slots,
      (role) => this.newSlot(role),
      c.models.watchIntervalMs,
      records,
      this.metrics,
      this.root.child({ module: 'models' }),
    );
    this.watcher.start();
    if (this.events) {
      this.relay = new AuditRelay(records, this.events, 1000, this.root.child({ module: 'audit' }), this.metrics);
      this.relay.start();
    }
    this.runRetention();
    this.retention = setInterval(() => this.runRetention(), c.records.retention.intervalMin * 60_000);
    this.retention.unref();
  }

  /** The device status: the pipeline's state, with the models that serve it. */
  private publishState(st: DeviceState = { ...this.pipelineState }): void {
    if (!this.events?.state) return;
    const models = Object.fromEntries([...this.slots].map(([r, s]) => [r, s.current?.id]));
    if (typeof models.survey === 'string' && typeof models.zoom === 'string') st.models = { survey: models.survey, zoom: models.zoom };
    this.events.state(st).catch((err: Error) => this.log.warn({ err: err.message, state: st.state }, 'status publish failed'));
  }

  private newSlot(role: ModelRole): ModelSlot<M> {
    return new ModelSlot(role, this.parts.modelLoader, {
      warmupRuns: this.config.models.warmupRuns,
      probation: this.config.models.probation,
      log: this.root.child({ module: 'models', role }),
      metrics: this.metrics,
      onDegraded: (r, id, reason) => void this.watcher?.rollback(r, id, reason),
      onProbationPassed: (r, id, stats) =>
        this.records?.audit({ action: 'model.probation', subject: id, outcome: 'ok', actor: daemonActor(), details: { role: r, stats } }),
    });
  }

  /** Re-reads the active models now (SIGHUP). */
  async checkModels(): Promise<void> {
    await this.watcher?.check();
  }

  private runRetention(): void {
    try {
      const r = this.images!.applyRetention(this.config.records.retention);
      for (const [reason, n] of Object.entries(r.reasons)) if (n) this.metrics.retentionDeleted.inc({ reason }, n);
      if (r.imagesDeleted || r.scansDeleted) this.log.info(r, 'retention');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'retention failed');
    }
  }

  report(): HealthReport {
    const checks: Record<string, HealthCheck> = {};
    if (this.camera) checks.camera = { ok: this.camera.state === 'open', detail: `${this.camera.info().id}: ${this.camera.state}` };
    if (this.stage) checks.stage = { ok: this.stage.state !== 'disconnected' && this.stage.state !== 'alarm', detail: `${this.stage.id}: ${this.stage.state}` };
    if (this.events) {
      const h = this.events.health();
      checks.broker =
        h.brokerConfigured === false
          ? { ok: true, detail: `no broker configured (mqtt.url): ${h.pendingEvents} events kept in the outbox` }
          : { ok: h.connected, detail: `${h.connected ? 'connected' : 'not connected'}; ${h.pendingEvents} events waiting` };
    }
    for (const role of this.pipeline?.requiredRoles ?? []) {
      const s = this.slots.get(role);
      checks[`model.${role}`] = { ok: !!s?.current, detail: s?.current ? `${s.current.id}${s.onProbation ? ' (on probation)' : ''}` : 'no model loaded' };
    }
    if (this.phase === 'ready') {
      const since = this.heartbeat.sinceMs() / 1000;
      checks.pipeline = { ok: since <= this.config.health.staleFrameS, detail: `last progress (${this.heartbeat.last}) ${since.toFixed(1)} s ago` };
    }
    try {
      const free = this.images?.freeBytes() ?? Infinity;
      checks.disk = { ok: free >= this.config.records.retention.minFreeMb * 1024 * 1024, detail: `${Math.round(free / 1024 / 1024)} MiB free` };
    } catch (err) {
      checks.disk = { ok: false, detail: (err as Error).message };
    }
    const allOk = Object.values(checks).every((c) => c.ok);
    const status = this.phase === 'ready' ? (allOk ? 'ok' : 'degraded') : this.phase === 'starting' ? 'starting' : 'stopping';
    return {
      status,
      step: this.step,
      version: packageVersion(),
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      models: Object.fromEntries([...this.slots].map(([r, s]) => [r, { id: s.current?.id ?? null, probation: s.onProbation, ...s.recentStats() }])),
      watchdog: this.watchdog ? { intervalMs: this.watchdog.intervalMs, fed: this.watchdog.fed, stalls: this.watchdog.stalls } : null,
      checks,
    };
  }

  /** Clean shutdown in reverse order; every step is attempted even when an earlier one fails. */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    this.phase = 'stopping';
    this.step = `stopping (${reason})`;
    void this.notifier.notify({ STOPPING: 1, STATUS: `stopping: ${reason}` });
    this.log.info({ reason }, 'stopping');
    // From here the pipeline's own states (a scan aborted to be resumed) are not the device's: it is stopping.
    this.publishState({ state: 'stopping', message: reason });
    const steps: Array<[string, () => unknown]> = [
      ['watchdog', () => this.watchdog?.stop()],
      ['control socket', () => this.control?.close()],
      ['web page', () => this.web?.close()],
      ['retention', () => this.retention && clearInterval(this.retention)],
      ['model watcher', () => this.watcher?.stop()],
      ['pipeline', () => this.pipeline?.stop()],
      ['audit relay', () => this.relay?.stop()],
      ['models', () => Promise.all([...this.slots.values()].map((s) => s.close()))],
      ['stage', () => this.stage?.close()],
      ['camera', () => this.camera?.close()],
      ['event sink', () => this.events?.close()],
      ['health endpoint', () => this.health?.close()],
      ['records', () => this.records?.close()],
    ];
    for (const [name, fn] of steps) {
      try {
        await fn();
      } catch (err) {
        this.log.error({ step: name, err: (err as Error).message }, 'shutdown step failed');
      }
    }
    this.phase = 'stopped';
    this.log.info('stopped');
    await this.notifier.flush();
  }
}
