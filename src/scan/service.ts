/**
 * The scan service: the unattended batch runner behind the daemon and the CLI. Samples are queued (CLI, MQTT
 * `enqueue-sample` / `start-scan`, a robot loader or PLC through either), scanned one after another, and controlled
 * (pause / resume / abort) while they run. It keeps feeding the heartbeat while it waits for work, so the systemd
 * watchdog restarts it only when it is stuck, not when it is idle.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from '../kernel/logger.js';
import { BatchQueue, type BatchJob } from './batch.js';
import { ScanControl } from './control.js';
import { runScan, type ScanResult } from './engine.js';
import type { Recipe } from './recipe.js';
import type { ScanDeps } from './run.js';

export interface ScanServiceOptions {
  stateDir: string;
  /** Runs one scan (default: the scan engine's runScan). */
  runScan?: typeof runScan;
  /** Builds the devices and models for a scan (they may change between scans: models are hot-swapped). */
  deps: () => Promise<ScanDeps> | ScanDeps;
  /** Finds a recipe by id (and version, when given). Throws with a clear message when there is none. */
  recipe: (id: string, version?: string) => Recipe;
  /** Throws, naming path and value, when a recipe cannot run on this instrument (objectives, stage travel). */
  check?: (recipe: Recipe) => void;
  logger: Logger;
  heartbeat?: () => void;
}

/** What the service is doing, as the retained MQTT status reports it (`device-state` events). */
export interface ServiceState {
  state: 'idle' | 'scanning' | 'paused' | 'faulted' | 'aborting';
  scanId?: string;
  sampleId?: string;
  queueLength: number;
  message?: string;
}

/** A scan command that does not apply to what is running: the reason says why. */
export class ScanCommandRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScanCommandRefused';
  }
}

const DEVICE_STATE: Partial<Record<string, ServiceState['state']>> = { running: 'scanning', paused: 'paused', faulted: 'faulted', aborting: 'aborting' };

export interface ScanStatus {
  state: string;
  reason: string;
  current: BatchJob | null;
  queued: BatchJob[];
  last: BatchJob | null;
}

export class ScanService extends EventEmitter {
  readonly queue: BatchQueue;
  private control: ScanControl | null = null;
  private current: BatchJob | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private lastState: Omit<ServiceState, 'queueLength'> = { state: 'idle' };
  private announced = false;
  private readonly log: Logger;

  constructor(private readonly o: ScanServiceOptions) {
    super();
    this.queue = new BatchQueue(join(o.stateDir, 'queue.json'));
    this.log = o.logger.child({ module: 'scan-service' });
    this.queue.on('enqueued', () => this.kick());
  }

  enqueue(req: { sampleId: string; lot?: string; recipeId: string; recipeVersion?: string; priority?: 'normal' | 'high' }): BatchJob {
    // Refuse an unknown recipe, or one this instrument cannot run, now: not when the sample comes up.
    this.o.check?.(this.o.recipe(req.recipeId, req.recipeVersion));
    const job = this.queue.enqueue({
      sampleId: req.sampleId,
      lot: req.lot ?? '-',
      recipeId: req.recipeId,
      ...(req.priority ? { priority: req.priority } : {}),
    });
    this.setState(this.lastState, true);
    return job;
  }

  /**
   * Pauses the running scan. With `scanId`, only if that scan is the one running: a command meant for another scan
   * (one that already ended, or a typo) is refused with the reason, never applied to whatever runs now.
   */
  pause(scanId?: string): ScanStatus {
    const control = this.target('pause', scanId);
    if (!control.pause()) throw new ScanCommandRefused(`scan "${this.current!.scanId}" is ${control.state}, not running: nothing to pause`);
    return this.status();
  }

  /** Resumes the paused (or faulted) scan; with `scanId`, only that one. */
  resume(scanId?: string): ScanStatus {
    const control = this.target('resume', scanId);
    if (!control.resume()) throw new ScanCommandRefused(`scan "${this.current!.scanId}" is ${control.state}, not paused: nothing to resume`);
    return this.status();
  }

  /** Aborts the running or paused scan; with `scanId`, only that one. */
  abort(reason?: string, scanId?: string): ScanStatus {
    const control = this.target('abort', scanId);
    if (!control.abort(reason)) throw new ScanCommandRefused(`scan "${this.current!.scanId}" is ${control.state}: nothing to abort`);
    return this.status();
  }

  private target(action: string, scanId: string | undefined): ScanControl {
    const control = this.control;
    const current = this.current;
    if (!control || !current) {
      throw new ScanCommandRefused(scanId ? `no scan is running (asked to ${action} "${scanId}")` : `no scan is running`);
    }
    if (scanId !== undefined && scanId !== current.scanId) {
      throw new ScanCommandRefused(
        `scan "${scanId}" is not the running scan ("${current.scanId}", sample ${current.sampleId}): not asked to ${action} it, so it goes on`,
      );
    }
    return control;
  }

  /** The current state for the retained status. */
  deviceState(): ServiceState {
    return { ...this.lastState, queueLength: this.queue.list().filter((j) => j.state === 'queued' && j.scanId !== this.current?.scanId).length };
  }

  /** Records the state and tells listeners; `force`: also when only the queue length changed. */
  private setState(s: Omit<ServiceState, 'queueLength'>, force = false): void {
    const prev = this.lastState;
    if (!force && this.announced && prev.state === s.state && prev.scanId === s.scanId && prev.message === s.message) return;
    this.announced = true;
    this.lastState = s;
    this.emit('device-state', this.deviceState());
  }

  status(): ScanStatus {
    const jobs = this.queue.list();
    const done = jobs.filter((j) => j.state !== 'queued' && j.state !== 'running');
    return {
      state: this.control?.state ?? 'idle',
      reason: this.control?.reason ?? '',
      current: this.current,
      queued: jobs.filter((j) => j.state === 'queued'),
      last: done.at(-1) ?? null,
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // A scan in progress is left in the journal as it is: the next start resumes it at its next unfinished step.
    this.control?.abort('appliance stopping', { resumable: true });
    this.kick();
    await this.loop;
  }

  private kick(): void {
    this.wake?.();
    this.wake = null;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const job = this.queue.next();
      if (!job) {
        this.setState({ state: 'idle' });
        this.o.heartbeat?.();
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 1000).unref();
        });
        continue;
      }
      await this.scan(job);
    }
  }

  private async scan(job: BatchJob): Promise<ScanResult | null> {
    const control = new ScanControl();
    this.control = control;
    this.current = job;
    control.on('state', (s: string, reason: string) => {
      this.emit('state', s, reason, job);
      const mapped = DEVICE_STATE[s];
      if (mapped && !this.stopping) this.setState({ state: mapped, scanId: job.scanId, sampleId: job.sampleId, ...(reason ? { message: reason } : {}) });
    });
    this.setState({ state: 'scanning', scanId: job.scanId, sampleId: job.sampleId });
    try {
      const recipe = this.o.recipe(job.recipeId);
      // The instrument may have changed since the sample was queued (a new calibration): checked again.
      this.o.check?.(recipe);
      if (job.state !== 'running') this.queue.update(job.scanId, { state: 'running', startedAt: new Date().toISOString() });
      const deps = await this.o.deps();
      const result = await (this.o.runScan ?? runScan)(
        { ...deps, heartbeat: this.o.heartbeat ?? deps.heartbeat },
        { scanId: job.scanId, sampleId: job.sampleId, lot: job.lot, recipe },
        control,
      );
      const s = result.summary;
      if (this.stopping && s.state === 'aborted') {
        // Stopped by shutdown, not by an operator: stays 'running' in the queue and resumes on the next start.
        return result;
      }
      this.queue.update(job.scanId, {
        state: s.state === 'finished' ? 'done' : s.state,
        endedAt: new Date().toISOString(),
        result: `${s.verdict.toUpperCase()} ${s.confirmed} defects${s.reasons.length ? `: ${s.reasons.join('; ')}` : ''}`,
      });
      this.emit('finished', job, result);
      return result;
    } catch (err) {
      const msg = (err as Error).message;
      this.log.error({ scanId: job.scanId, err: msg }, 'sample could not be scanned');
      this.queue.update(job.scanId, { state: 'failed', endedAt: new Date().toISOString(), result: msg });
      return null;
    } finally {
      this.control = null;
      this.current = null;
    }
  }
}
