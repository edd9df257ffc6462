/**
 * The Clock port: instrument time.
 *
 * Everything that models the physical instrument (stage motion, settle, exposure, objective changes, status-poll
 * intervals) waits on `sleep()`, and measures instrument time with `now()`. Real computation that would also take
 * time on the instrument (inference) runs inside `busy()`. Timeouts that guard I/O (a reply on a serial line, a broker
 * acknowledgement) use real timers, never this clock.
 *
 * - {@link RealClock}: wall time; `busy()` just runs the work.
 * - {@link SimClock}: a discrete-event clock for the digital twin. Instrument time advances only (a) by jumping to the
 *   earliest pending `sleep()` deadline when no `busy()` work is running, or (b) at real speed while at least one
 *   `busy()` block runs. Simulation overhead (rendering the twin, firmware simulators) therefore costs no instrument
 *   time, while overlap is accounted correctly: inference running during a stage move costs max(move, inference).
 */
export interface Clock {
  /** Instrument time in milliseconds since the clock started. Monotonic. */
  now(): number;
  /** Wall-clock time for records and event timestamps (simulated clocks report start time + instrument time). */
  wallTime(): Date;
  /** Waits `ms` of instrument time. Rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs real work whose duration counts as instrument time. */
  busy<T>(work: () => Promise<T>): Promise<T>;
  /** True for the twin's clock. */
  readonly simulated: boolean;
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
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
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
  /** Instrument time accumulated up to `realMark` (ms). */
  private base = 0;
  /** performance.now() when the current busy stretch began; null while no busy work runs. */
  private realMark: number | null = null;
  private busyCount = 0;
  private readonly sleepers: Sleeper[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private readonly epochMs: number;

  /** @param startWallTime wall time that instrument time 0 corresponds to (fixed in tests for reproducible stamps). */
  constructor(startWallTime: Date = new Date()) {
    this.epochMs = startWallTime.getTime();
  }

  now(): number {
    return this.realMark === null ? this.base : this.base + (performance.now() - this.realMark);
  }

  wallTime(): Date {
    return new Date(this.epochMs + this.now());
  }

  /** Pending sleeps (for tests and diagnostics). */
  get pending(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        deadline: this.now() + Math.max(0, ms),
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
    if (this.busyCount++ === 0) {
      this.realMark = performance.now();
      this.cancelJump();
    }
    try {
      return await work();
    } finally {
      if (--this.busyCount === 0) {
        this.base += performance.now() - (this.realMark ?? performance.now());
        this.realMark = null;
      }
      this.schedule();
    }
  }

  private cancelJump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Deadlines now pass in real time while busy work runs.
    this.schedule();
  }

  /**
   * Decides when the next sleeper wakes. Runs after pending I/O callbacks (setImmediate twice) so that work which
   * was just unblocked gets the chance to start `busy()` sections or new sleeps before time jumps.
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
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.sleepers.length === 0) return;
    this.sleepers.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
    const first = this.sleepers[0]!;
    const now = this.now();
    if (first.deadline <= now) {
      this.wakeUntil(now);
      return;
    }
    if (this.busyCount > 0) {
      // Real work is running: time flows at real speed until the deadline (or until the work ends).
      this.timer = setTimeout(() => {
        this.timer = null;
        this.step();
      }, first.deadline - now);
      return;
    }
    // Nothing runs: jump.
    this.base = first.deadline;
    this.wakeUntil(this.base);
  }

  private wakeUntil(t: number): void {
    while (this.sleepers.length > 0 && this.sleepers[0]!.deadline <= t) {
      this.sleepers.shift()!.resolve();
    }
    this.schedule();
  }
}
