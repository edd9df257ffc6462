/**
 * Prometheus metrics (prom-client), one registry per daemon. Modules get the metric objects from here and update
 * them; values that live elsewhere (outbox depth, disk free, frame rate) are read at scrape time through providers.
 * Every name carries its unit (Prometheus naming: *_seconds, *_bytes, *_total, *_hz).
 */
import { statfsSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricProviders {
  /** Events waiting in the MQTT outbox. */
  outboxDepth?: () => number;
  /** Folder whose volume's free space is reported. */
  stateDir?: string;
}

/** Frames per second over a sliding window, from completion times. */
class RateWindow {
  private readonly times: number[] = [];
  constructor(private readonly windowMs: number) {}
  add(t = performance.now()): void {
    this.times.push(t);
    this.trim(t);
  }
  rate(t = performance.now()): number {
    this.trim(t);
    return this.times.length / (this.windowMs / 1000);
  }
  private trim(t: number): void {
    while (this.times.length > 0 && this.times[0]! < t - this.windowMs) this.times.shift();
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly frameRate = new RateWindow(10_000);
  private providers: MetricProviders = {};

  readonly frames = new Counter({ name: 'smartscope_frames_total', help: 'Frames fully processed by the pipeline.', registers: [this.registry] });
  readonly framesDropped = new Counter({
    name: 'smartscope_frames_dropped_total',
    help: 'Frames dropped (camera ring overrun, incomplete transfer, taken while moving).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly frameLatency = new Histogram({
    name: 'smartscope_frame_latency_seconds',
    help: 'Exposure end to result, per frame.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly inferenceLatency = new Histogram({
    name: 'smartscope_inference_seconds',
    help: 'Model inference time per call.',
    labelNames: ['role'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly inferenceErrors = new Counter({
    name: 'smartscope_inference_errors_total',
    help: 'Failed inferences.',
    labelNames: ['role'],
    registers: [this.registry],
  });
  readonly detections = new Counter({
    name: 'smartscope_detections_total',
    help: 'Detections returned by the models.',
    labelNames: ['role'],
    registers: [this.registry],
  });
  readonly stageMoves = new Counter({ name: 'smartscope_stage_moves_total', help: 'Completed stage moves.', registers: [this.registry] });
  readonly stageMoveDuration = new Histogram({
    name: 'smartscope_stage_move_seconds',
    help: 'Stage move time including settle.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'smartscope_model_info',
    help: 'Active model per role (value 1).',
    labelNames: ['role', 'model'],
    registers: [this.registry],
  });
  readonly modelSwaps = new Counter({
    name: 'smartscope_model_swaps_total',
    help: 'Hot swaps to another model version.',
    labelNames: ['role'],
    registers: [this.registry],
  });
  readonly modelRollbacks = new Counter({
    name: 'smartscope_model_rollbacks_total',
    help: 'Automatic rollbacks after a failed probation.',
    labelNames: ['role'],
    registers: [this.registry],
  });
  readonly watchdogStalls = new Counter({
    name: 'smartscope_watchdog_stalls_total',
    help: 'Watchdog checks that found no pipeline progress.',
    registers: [this.registry],
  });
  readonly retentionDeleted = new Counter({
    name: 'smartscope_retention_images_deleted_total',
    help: 'Images deleted by retention.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly auditPublished = new Counter({
    name: 'smartscope_audit_events_published_total',
    help: 'Audit records handed to the event sink.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'smartscope_' });
    // Labelled series appear only once touched: start the known ones at zero so dashboards see them from the start.
    for (const reason of ['timeout', 'error', 'overrun', 'incomplete', 'moving']) this.framesDropped.inc({ reason }, 0);
    // prom-client calls collect() with the gauge as `this`.
    const frameRate = this.frameRate;
    const providers = (): MetricProviders => this.providers;
    new Gauge({
      name: 'smartscope_frame_rate_hz',
      help: 'Frames processed per second over the last 10 s.',
      registers: [this.registry],
      collect() {
        this.set(frameRate.rate());
      },
    });
    new Gauge({
      name: 'smartscope_outbox_depth',
      help: 'Events waiting in the durable outbox for the broker.',
      registers: [this.registry],
      collect() {
        this.set(providers().outboxDepth?.() ?? 0);
      },
    });
    new Gauge({
      name: 'smartscope_disk_free_bytes',
      help: 'Free space on the state volume.',
      registers: [this.registry],
      collect() {
        const stateDir = providers().stateDir;
        if (!stateDir) return;
        try {
          const s = statfsSync(stateDir);
          this.set(s.bavail * s.bsize);
        } catch {
          // The folder vanished; keep the last value.
        }
      },
    });
  }

  setProviders(p: MetricProviders): void {
    this.providers = { ...this.providers, ...p };
  }

  /** One frame done: counts it, feeds the frame rate and the latency histogram. */
  frameDone(latencySeconds?: number): void {
    this.frames.inc();
    this.frameRate.add();
    if (latencySeconds !== undefined) this.frameLatency.observe(latencySeconds);
  }

  setActiveModel(role: string, id: string | null): void {
    this.modelInfo.reset();
    this.activeModels.set(role, id);
    for (const [r, m] of this.activeModels) if (m) this.modelInfo.set({ role: r, model: m }, 1);
  }

  private readonly activeModels = new Map<string, string | null>();

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
