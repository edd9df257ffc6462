/**
 * The systemd watchdog is fed by the pipeline's progress, never by a timer alone: the scan engine (or whatever runs
 * the pipeline) calls `heartbeat.beat()` each time it completes a step — a frame, a stage move, a turn of its idle
 * loop. Every half watchdog interval the feeder sends WATCHDOG=1 only if the heartbeat moved since the last check, so
 * a pipeline stuck in a driver call or a dead loop lets the watchdog expire and systemd restarts the service
 * (WatchdogSec= and Restart=on-failure in systemd/smartscope.service; sd_watchdog_enabled(3)).
 */
import type { Logger } from '../kernel/logger.js';
import type { Notifier } from '../ops/notifier.js';

export class Heartbeat {
  private n = 0;
  private at = performance.now();
  private what = 'start';

  /** Records progress; `what` names the step for diagnostics ("frame", "move", "idle"). */
  beat(what = 'step'): void {
    this.n++;
    this.at = performance.now();
    this.what = what;
  }

  get count(): number {
    return this.n;
  }

  /** Milliseconds since the last beat. */
  sinceMs(): number {
    return performance.now() - this.at;
  }

  get last(): string {
    return this.what;
  }
}

/** The watchdog interval systemd asked for (WATCHDOG_USEC), or null when the watchdog is off or meant for another pid. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return usec / 1000;
}

export class WatchdogFeeder {
  private timer: NodeJS.Timeout | null = null;
  private seen = -1;
  stalls = 0;
  fed = 0;

  constructor(
    private readonly notifier: Notifier,
    private readonly heartbeat: Heartbeat,
    readonly intervalMs: number,
    private readonly log?: Logger,
    private readonly onStall?: () => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.seen = this.heartbeat.count;
    // Half the interval, as sd_watchdog_enabled(3) recommends, so one late check does not expire the watchdog.
    this.timer = setInterval(() => void this.check(), Math.max(50, this.intervalMs / 2));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check: feed when the pipeline progressed since the previous check. */
  async check(): Promise<boolean> {
    const n = this.heartbeat.count;
    if (n !== this.seen) {
      this.seen = n;
      this.fed++;
      void this.notifier.notify({ WATCHDOG: 1 });
      return true;
    }
    this.stalls++;
    this.onStall?.();
    this.log?.warn({ sinceMs: Math.round(this.heartbeat.sinceMs()), last: this.heartbeat.last }, 'pipeline made no progress: watchdog not fed');
    return false;
  }
}
