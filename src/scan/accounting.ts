/** Where instrument time goes during a scan: each awaited activity is charged to one category. */
import type { Clock } from '../kernel/clock.js';
import type { TimeSplit } from './summary.js';

export type Activity = 'travel' | 'focus' | 'capture' | 'inference';

export class TimeAccount {
  private readonly spent: Record<Activity, number> = { travel: 0, focus: 0, capture: 0, inference: 0 };
  private inferenceAll = 0;
  private readonly phases: Record<string, number> = {};
  private readonly t0: number;

  constructor(
    private readonly clock: Clock,
    carried?: Partial<Record<string, number>>,
  ) {
    this.t0 = clock.now() - (carried?.totalMs ?? 0);
    if (carried) {
      for (const k of ['travel', 'focus', 'capture', 'inference'] as const) this.spent[k] = carried[`${k}Ms`] ?? 0;
      this.inferenceAll = carried.inferenceTotalMs ?? 0;
      this.phases.survey = carried.surveyMs ?? 0;
      this.phases.zoom = carried.zoomMs ?? 0;
    }
  }

  async track<T>(what: Activity, work: () => Promise<T>): Promise<T> {
    const t = this.clock.now();
    try {
      return await work();
    } finally {
      this.spent[what] += this.clock.now() - t;
    }
  }

  /** Runs inference inside the clock's busy section and records its full duration. */
  async infer<T>(work: () => Promise<T>): Promise<T> {
    const r0 = performance.now();
    try {
      return await this.clock.busy(work);
    } finally {
      this.inferenceAll += performance.now() - r0;
    }
  }

  async phase<T>(name: string, work: () => Promise<T>): Promise<T> {
    const t = this.clock.now();
    try {
      return await work();
    } finally {
      this.phases[name] = (this.phases[name] ?? 0) + this.clock.now() - t;
    }
  }

  split(): TimeSplit {
    const total = this.clock.now() - this.t0;
    const accounted = this.spent.travel + this.spent.focus + this.spent.capture + this.spent.inference;
    const all = Math.max(this.inferenceAll, this.spent.inference);
    return {
      totalMs: total,
      surveyMs: this.phases.survey ?? 0,
      zoomMs: this.phases.zoom ?? 0,
      travelMs: this.spent.travel,
      focusMs: this.spent.focus,
      captureMs: this.spent.capture,
      inferenceMs: this.spent.inference,
      otherMs: Math.max(0, total - accounted),
      inferenceTotalMs: all,
      hiddenInferenceShare: all > 0 ? Math.max(0, 1 - this.spent.inference / all) : 1,
    };
  }
}
