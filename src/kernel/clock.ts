/**
 * The Clock port: instrument time.
 *
 * Everything that models the physical instrument (stage motion, settle, exposure, objective changes, status-poll
 * intervals, firmware timing) waits on `sleep()`, and measures instrument time with `now()`. Real computation that
 * takes time on the instrument too (inference) runs inside `busy()`. Timeouts that guard I/O (a reply on a serial
 * line, a broker acknowledgement) and periodic housekeeping (stats, watchdog) use real timers, never this clock.
 *
 * - {@link RealClock}: wall time; `busy()` just runs the work.
 * - {@link SimClock}: a discrete-event clock for the digital twin. Instrument time only moves by jumping to the
 *   earliest pending `sleep()` deadline, so simulation overhead (rendering the twin, firmware simulators, I/O between
 *   them) costs no instrument time and the twin runs much faster than real time. `busy(work)` measures the real
 *   duration d of the work and completes at instrument time start + d: work that overlaps a stage move costs
 *   max(move, work), as on the instrument, whatever else the host machine was doing meanwhile.
 */
export interface Clock {
  /** Instrument time in milliseconds since the clock started. Monotonic. */
  now(): number;
  /** Wall-clock time for records and event timestamps (simulated clocks report start time + instrument time). */
  wallTime(): Date;
  /** Waits `ms` of instrument time. Rejects with the signal's reason when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs real work whose duration counts as instrument time. */
  busy<T>(work: () => Promise<T>): Promise<T>;
  /** True for the twin's clock. */
  readonly simulated: boolean;
  /**
   * Keeps instrument time from jumping while `work` runs — for I/O that stands for something instantaneous on the
   * instrument (bytes on a serial line to a simulated controller). Sleeps that are already due still wake.
   */
  hold?<T>(work: () => Promise<T>): Promise<T>;
}

export function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'The operation was aborted');
  err.name = 'AbortError';
  return err;
}

export class RealClock implements Clock {
  readonly simulated = false;
  private readonly t0 = performance.now();

  now(): number {
    return performance.now() - this.t0;
  }

  wallTime(): Date {
    return new Date();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortError(signal));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  busy<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }
}

interface Sleeper {
  deadline: number;
  seq: number;
  resolve: () => void;
}

export class SimClock implements Clock {
  readonly simulated = true;
  private t = 0;
  private readonly sleepers: Sleeper[] = [];
  private seq = 0;
  private holds = 0;
  private scheduled = false;
  private readonly epochMs: number;
  private readonly workTimeMs: () => number;

  /**
   * @param startWallTime wall time that instrument time 0 corresponds to (fixed in tests for reproducible stamps).
   * @param opts.workTimeMs how `busy()` measures the real work (default: performance.now(); tests pass a counter).
   */
  constructor(startWallTime: Date = new Date(), opts: { workTimeMs?: () => number } = {}) {
    this.epochMs = startWallTime.getTime();
    this.workTimeMs = opts.workTimeMs ?? (() => performance.now());
  }

  now(): number {
    return this.t;
  }

  wallTime(): Date {
    return new Date(this.epochMs + this.t);
  }

  /** Pending sleeps (for tests and diagnostics). */
  get pending(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        deadline: this.t + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.sleepers.indexOf(sleeper);
        if (i >= 0) this.sleepers.splice(i, 1);
        reject(abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
      this.schedule();
    });
  }

  async busy<T>(work: () => Promise<T>): Promise<T> {
    const start = this.t;
    const r0 = this.workTimeMs();
    const result = await work();
    const end = start + (this.workTimeMs() - r0);
    if (end > this.t) await this.sleep(end - this.t);
    return result;
  }

  async hold<T>(work: () => Promise<T>): Promise<T> {
    this.holds++;
    try {
      return await work();
    } finally {
      this.holds--;
      this.schedule();
    }
  }

  /**
   * Wakes the earliest sleeper(s). Runs after pending I/O callbacks (two setImmediate turns) so that work which was
   * just unblocked gets the chance to register its own sleeps before time jumps past them.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() =>
      setImmediate(() => {
        this.scheduled = false;
        this.step();
      }),
    );
  }

  private step(): void {
    if (this.sleepers.length === 0) return;
    this.sleepers.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
    const first = this.sleepers[0]!;
    if (first.deadline > this.t) {
      // Held: time stands still until the held work ends (its end schedules the next step).
      if (this.holds > 0) return;
      this.t = first.deadline;
    }
    while (this.sleepers.length > 0 && this.sleepers[0]!.deadline <= this.t) this.sleepers.shift()!.resolve();
    this.schedule();
  }
}
