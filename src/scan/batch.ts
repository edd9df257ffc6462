/**
 * Unattended batches: samples arrive in a queue (from the CLI or an MQTT command, as a robot loader or PLC would send
 * them), each with a sample id, lot and recipe, and are scanned in order without a person. The queue is a JSON file
 * replaced atomically on every change, so a restart picks up where it stopped: a sample that was being scanned is
 * resumed from its journal under the same scan id.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../kernel/durable-fs.js';
import { EventEmitter } from 'node:events';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'aborted';

export interface BatchJob {
  scanId: string;
  sampleId: string;
  lot: string;
  recipeId: string;
  enqueuedAt: string;
  state: JobState;
  startedAt?: string;
  endedAt?: string;
  /** Outcome in one line: PASS/FAIL with counts, or why it failed. */
  result?: string;
  /** `high`: scanned before every `normal` sample still queued (in arrival order among the high ones). */
  priority?: 'normal' | 'high';
}

const ID = /^[A-Za-z0-9._:-]{1,64}$/;

export class BatchQueue extends EventEmitter {
  private jobs: BatchJob[] = [];
  private seq = 0;

  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    super();
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      let data: { jobs?: BatchJob[]; seq?: number };
      try {
        data = JSON.parse(readFileSync(path, 'utf8')) as { jobs?: BatchJob[]; seq?: number };
      } catch (err) {
        throw new Error(`batch queue ${path} is unreadable (${(err as Error).message}); move it aside to start an empty queue`);
      }
      this.jobs = data.jobs ?? [];
      this.seq = data.seq ?? this.jobs.length;
    }
  }

  list(): BatchJob[] {
    return this.jobs.map((j) => ({ ...j }));
  }

  /** Adds a sample; refuses ids that could not be used in file names or topics. */
  enqueue(req: { sampleId: string; lot: string; recipeId: string; priority?: 'normal' | 'high' }): BatchJob {
    const { priority, ...ids } = req;
    if (priority !== undefined && priority !== 'normal' && priority !== 'high')
      throw new RangeError(`priority must be "normal" or "high" but is ${JSON.stringify(priority)}`);
    for (const [k, v] of Object.entries(ids)) {
      if (typeof v !== 'string' || !ID.test(v)) throw new RangeError(`${k} must be 1–64 characters of A–Z a–z 0–9 . _ : - but is ${JSON.stringify(v)}`);
    }
    if (this.jobs.some((j) => j.sampleId === req.sampleId && (j.state === 'queued' || j.state === 'running'))) {
      throw new RangeError(`sample ${req.sampleId} is already queued`);
    }
    this.seq++;
    const at = this.now();
    const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const job: BatchJob = {
      scanId: `scan-${stamp}-${String(this.seq).padStart(4, '0')}-${req.sampleId}`,
      ...ids,
      enqueuedAt: at.toISOString(),
      state: 'queued',
    };
    if (priority === 'high') job.priority = 'high';
    this.jobs.push(job);
    this.save();
    this.emit('enqueued', job);
    return { ...job };
  }

  /** The job to work on next: one left running by a crash (to resume), then the first high-priority one, then the first queued. */
  next(): BatchJob | null {
    return (
      this.jobs.find((j) => j.state === 'running') ??
      this.jobs.find((j) => j.state === 'queued' && j.priority === 'high') ??
      this.jobs.find((j) => j.state === 'queued') ??
      null
    );
  }

  update(scanId: string, patch: Partial<Pick<BatchJob, 'state' | 'startedAt' | 'endedAt' | 'result'>>): void {
    const j = this.jobs.find((x) => x.scanId === scanId);
    if (!j) throw new Error(`no job with scan id ${scanId}`);
    Object.assign(j, patch);
    this.save();
    this.emit('changed', { ...j });
  }

  /** Removes finished jobs beyond the most recent `keep`. */
  prune(keep = 1000): void {
    const finished = this.jobs.filter((j) => j.state !== 'queued' && j.state !== 'running');
    if (finished.length <= keep) return;
    const drop = new Set(finished.slice(0, finished.length - keep));
    this.jobs = this.jobs.filter((j) => !drop.has(j));
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.path, `${JSON.stringify({ seq: this.seq, jobs: this.jobs }, null, 1)}\n`);
  }
}
