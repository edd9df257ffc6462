/**
 * The daemon's scan pipeline: the scan service over the devices and models the appliance opened, controlled through
 * MQTT commands. Models are used through their slots, so a model a technician installs is hot-swapped between scans'
 * frames and watched during its probation like any other.
 */
import type { ModelSlot } from '../bundles/model-slot.js';
import type { Nosepiece } from '../camera/nosepiece.js';
import type { OnnxDetector } from '../inference/onnx-detector.js';
import { scanDetector } from './scan-detector.js';
import type { Pipeline, PipelineContext } from './appliance.js';
import type { Clock } from '../kernel/clock.js';
import { packageVersion } from '../kernel/paths.js';
import { recordsScanRecorder } from './scan-recorder.js';
import type { EventSink } from '../publish/event-sink.js';
import { scanSinkFor } from './scan-sink.js';
import type { Calibration } from '../scan/calibration.js';
import type { ScanDetector } from '../scan/ports.js';
import type { Recipe } from '../scan/recipe.js';
import { ScanService, type ServiceState } from '../scan/service.js';
import { assertRecipeFits } from '../scan/recipe-check.js';
import type { ScanDeps } from '../scan/run.js';

export interface ScanPipelineOptions {
  clock: Clock;
  nosepiece: Nosepiece;
  /** The sink the appliance opened (its command topics are where the MES controls scans). */
  sink: () => EventSink | null;
  /** The calibration to scan with (measured or read at start). */
  calibration: (ctx: PipelineContext<OnnxDetector>) => Promise<Calibration>;
  recipe: (id: string, version?: string) => Recipe;
  /** Where recipes come from (named in refusals). */
  recipesDir?: string;
  stateDir: string;
}

/**
 * The MES's scan commands on the sink, answered by the scan service (docs/mqtt-api.md "Commands"); returns the
 * functions that remove them.
 */
export function mqttScanCommands(sink: Pick<EventSink, 'onCommand'>, service: ScanService): Array<() => void> {
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  return [
    sink.onCommand('enqueue-sample', (p) =>
      service.enqueue({ sampleId: p.sampleId, lot: p.lot, recipeId: p.recipe.id, recipeVersion: p.recipe.version, priority: p.priority }),
    ),
    sink.onCommand('start-scan', (p) => {
      if (p.sampleId)
        return service.enqueue({
          sampleId: p.sampleId,
          lot: p.lot,
          recipeId: p.recipe?.id ?? fail('start-scan with a sampleId needs a recipe'),
          recipeVersion: p.recipe?.version,
        });
      return service.status();
    }),
    sink.onCommand('pause-scan', (p) => service.pause(p.scanId)),
    sink.onCommand('resume-scan', (p) => service.resume(p.scanId)),
    sink.onCommand('abort-scan', (p) => service.abort(p.reason ?? 'aborted by the MES', p.scanId)),
    // The appliance re-reads the active models on SIGHUP (src/commands/run.ts).
    sink.onCommand('reload-model', () => (process.emit('SIGHUP', 'SIGHUP'), { reloading: true })),
  ];
}

/** A detector that always runs the model currently active in its slot, measured for the probation watch. */
export function slotDetector(slot: ModelSlot<OnnxDetector>): ScanDetector {
  const view = (): ScanDetector => {
    const m = slot.current;
    if (!m) throw Object.assign(new Error(`no ${slot.role} model is loaded`), { noModel: true });
    return scanDetector(m, { probabilityMaxSide: 512 });
  };
  return {
    get id() {
      return view().id;
    },
    get sha256() {
      return view().sha256;
    },
    get classes() {
      return view().classes;
    },
    detect: (frame, signal) =>
      slot.use(
        (m) => scanDetector(m, { probabilityMaxSide: 512 }).detect(frame, signal),
        (r) => r.detections.length,
      ),
  };
}

export class ScanPipeline implements Pipeline<OnnxDetector> {
  readonly requiredRoles = ['survey', 'zoom'] as const;
  private service: ScanService | null = null;
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly o: ScanPipelineOptions) {}

  async start(ctx: PipelineContext<OnnxDetector>): Promise<void> {
    const calibration = await this.o.calibration(ctx);
    const sink = this.o.sink();
    const log = ctx.log.child({ module: 'scan' });
    const survey = ctx.models.get('survey');
    const zoom = ctx.models.get('zoom');
    if (!survey || !zoom) throw new Error('the scan pipeline needs a survey and a zoom model');
    const heartbeat = (): void => ctx.heartbeat.beat();
    const d = ctx.config.device;
    const observe = <T extends ScanDeps>(d: T): T => (ctx.web ? ctx.web.view.deps(d) : d);
    const recorder = recordsScanRecorder(ctx.records, ctx.images, {
      device: `${d.site}/${d.line}/${d.id}`,
      softwareVersion: packageVersion(),
      logger: ctx.log,
    });
    const service = new ScanService({
      stateDir: this.o.stateDir,
      recipe: this.o.recipe,
      check: (recipe) =>
        assertRecipeFits(
          recipe,
          { objectives: Object.keys(calibration.objectives), limits: ctx.stage.limits },
          `${this.o.recipesDir ?? 'recipes'}/${recipe.id}.yaml`,
        ),
      logger: ctx.log,
      heartbeat,
      // Observed by the web page when it is served (live view, mosaic, events).
      deps: () =>
        observe({
          camera: ctx.camera,
          stage: ctx.stage,
          nosepiece: this.o.nosepiece,
          clock: this.o.clock,
          surveyDetector: slotDetector(survey),
          zoomDetector: slotDetector(zoom),
          sink: sink ? scanSinkFor(sink, { forwardState: false }) : { defect: async () => undefined, scan: async () => undefined },
          recorder,
          calibration,
          stateDir: this.o.stateDir,
          logger: ctx.log,
          heartbeat,
        }),
    });
    this.service = service;
    ctx.web?.server?.setQueue(() => service.status());
    const ops = {
      enqueue: (a: { sampleId: string; lot?: string; recipeId: string; recipeVersion?: string; priority?: 'normal' | 'high' }) => service.enqueue(a),
      pause: (scanId?: string) => service.pause(scanId),
      resume: (scanId?: string) => service.resume(scanId),
      abort: (reason: string, scanId?: string) => service.abort(reason, scanId),
    };
    // The technician's commands on the local socket (`smartscope scan …`), recorded as operator commands.
    const text = (a: Record<string, unknown>, k: string, required: boolean): string | undefined => {
      const v = a[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'string') throw new Error(`${k} must be a string but is ${JSON.stringify(v)}`);
      return v;
    };
    this.unsubscribe.push(
      ctx.control.handle('scan-enqueue', (a) =>
        ops.enqueue({
          sampleId: text(a, 'sampleId', true)!,
          lot: text(a, 'lot', false),
          recipeId: text(a, 'recipe', true)!,
          recipeVersion: text(a, 'recipeVersion', false),
        }),
      ),
      ctx.control.handle('scan-status', () => service.status()),
      ctx.control.handle('scan-pause', (a) => ops.pause(text(a, 'scanId', false))),
      ctx.control.handle('scan-resume', (a) => ops.resume(text(a, 'scanId', false))),
      ctx.control.handle('scan-abort', (a, actor) =>
        ops.abort(text(a, 'reason', false) ?? `aborted by ${actor.user} (${actor.from})`, text(a, 'scanId', false)),
      ),
    );
    if (sink) {
      // Figures the periodic `stats` message carries.
      sink.setRuntimeStats(() => ({ queueLength: service.status().queued.length, framesDropped: ctx.camera.counters().dropped }));
      this.unsubscribe.push(...mqttScanCommands(sink, service));
    }
    service.on('state', (state: string, reason: string, job: { scanId: string }) => log.info({ state, reason, scanId: job.scanId }, 'scan state'));
    // The retained status follows the service: idle with an empty queue, scanning, paused, faulted, aborting.
    service.on('device-state', (st: ServiceState) => ctx.status(st));
    service.start();
    ctx.status(service.deviceState());
    log.info({ queued: service.status().queued.length, calibration: calibration.version }, 'scan pipeline running');
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.service?.stop();
  }

  /** The running service (CLI-side tests and status). */
  get scans(): ScanService | null {
    return this.service;
  }
}
