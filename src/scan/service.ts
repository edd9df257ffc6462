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
  /** Builds the devices and models for a scan (they may change between scans: models are hot-swapped). */
  deps: () => Promise<ScanDeps> | ScanDeps;
  /** Finds a recipe by id (and version, when given). Throws with a clear message when there is none. */
  recipe: (id: string, version?: string) => Recipe;
  logger: Logger;
  heartbeat?: () => void;
}

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
  private readonly log: Logger;

  constructor(private readonly o: ScanServiceOptions) {
    super();
    this.queue = new BatchQueue(join(o.stateDir, 'queue.json'));
    this.log = o.logger.child({ module: 'scan-service' });
    this.queue.on('enqueued', () => this.kick());
  }

  enqueue(req: { sampleId: string; lot?: string; recipeId: string; recipeVersion?: string }): BatchJob {
    // Refuse an unknown recipe now, not when the sample comes up.
    this.o.recipe(req.recipeId, req.recipeVersion);
    return this.queue.enqueue({ sampleId: req.sampleId, lot: req.lot ?? '-', recipeId: req.recipeId });
  }

  pause(): boolean {
    return this.control?.pause() ?? false;
  }

  resume(): boolean {
    return this.control?.resume() ?? false;
  }

  abort(reason?: string): boolean {
    return this.control?.abort(reason) ?? false;
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
    control.on('state', (s: string, reason: string) => this.emit('state', s, reason, job));
    try {
      const recipe = this.o.recipe(job.recipeId);
      if (job.state !== 'running') this.queue.update(job.scanId, { state: 'running', startedAt: new Date().toISOString() });
      const deps = await this.o.deps();
      const result = await runScan({ ...deps, heartbeat: this.o.heartbeat ?? deps.heartbeat }, { scanId: job.scanId, sampleId: job.sampleId, lot: job.lot, recipe }, control);
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
