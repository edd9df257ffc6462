/**
 * Composition root: the only place that chooses between real and simulated adapters. It builds the parts the
 * appliance daemon (src/appliance/appliance.ts) runs: camera, stage, event sink, model loader and pipeline.
 *
 * - camera: `camera.kind` — the twin (rendering into the native frame pool), GenICam or V4L2;
 * - stage: `stage.driver` — GRBL or ProScan over a serial port, or the twin (a protocol driver talking to the twin's
 *   firmware simulator, `stage.twin`);
 * - clock: the twin's (simulated or real, `twin.clock`) only when every device is the twin's; any real device runs on
 *   the system clock, and a mix of real devices with a simulated twin clock is refused;
 * - events: the MQTT sink; without `mqtt.url` the events stay in the outbox (never an embedded broker here: that is
 *   the demo's, src/commands/demo.ts);
 * - pipeline: `scan.pipeline` — the scan engine over the sample queue, or the camera/model self-check loop.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { LoadedModel } from './bundles/model-slot.js';
import { OrtWorkerModel } from './bundles/ort-worker-model.js';
import { createFrameSource } from './camera/factory.js';
import { twinCameraBuilder } from './sim/twin-frame-source.js';
import type { FrameSource } from './camera/frame-source.js';
import type { Config } from './config/schema.js';
import { ConfigError } from './kernel/validate.js';
import { instrumentIssues } from './config/checks.js';
import { OnnxDetector } from './inference/onnx-detector.js';
import type { ApplianceParts, EventsPort } from './appliance/appliance.js';
import { FrameLoopPipeline } from './appliance/frame-loop.js';
import { RealClock, type Clock } from './kernel/clock.js';
import type { Logger } from './kernel/logger.js';
import type { EventSink } from './publish/event-sink.js';
import { createEventSink } from './publish/index.js';
import { calibrate, loadCalibration, saveCalibration, type Calibration } from './scan/calibration.js';
import { ScanPipeline } from './appliance/scan-pipeline.js';
import { parseRecipe, type Recipe } from './scan/recipe.js';
import { sampleOutline } from './sim/sample-outline.js';
import { createTwinStage } from './sim/firmware/twin-serial-stage.js';
import { pixelSizeUm } from './sim/optics.js';
import { createTwin, type Twin } from './sim/twin.js';
import { createStage } from './stage/factory.js';
import type { Stage } from './stage/stage.js';

/**
 * The instrument's clock and, only where the config asks for a twin device, the twin. Real devices run in real time:
 * a simulated twin clock beside them would make waits end at once and stamp events with instrument time, so that mix
 * is refused (ConfigError, exit 78) rather than run dishonestly.
 */
export async function createInstrument(config: Config): Promise<{ clock: Clock; twin: Twin | null }> {
  const stageCfg = config.stage;
  const problems = instrumentIssues(config);
  if (problems.length > 0) throw new ConfigError('config', problems);
  if (config.camera.kind !== 'twin' && stageCfg.driver !== 'twin') return { clock: new RealClock(), twin: null };
  const twin = await createTwin(config.twin);
  return { clock: twin.clock, twin };
}

function needTwin(twin: Twin | null, what: string): Twin {
  if (!twin) throw new ConfigError('config', [{ path: what, value: 'twin', expected: 'a twin device: the twin was not built for this config' }]);
  return twin;
}

export async function createApplianceParts(config: Config, log: Logger): Promise<ApplianceParts<LoadedModel>> {
  const appLog = log.child({ module: 'app' });
  const { clock, twin: maybeTwin } = await createInstrument(config);
  const stageCfg = config.stage;
  let camera: FrameSource | null = null;
  let stage: Stage | null = null;
  let sink: EventSink | null = null;
  const cameraPart = (): FrameSource =>
    (camera ??= createFrameSource(config.camera, { clock, ...(maybeTwin ? { twin: twinCameraBuilder(maybeTwin.world, clock) } : {}) }));
  const stagePart = async (): Promise<Stage> => {
    if (stage) return stage;
    if (stageCfg.driver === 'twin') {
      const twin = needTwin(maybeTwin, 'stage.driver');
      const rig = await createTwinStage(twin.world, clock, { protocol: stageCfg.twin.protocol, transport: stageCfg.twin.transport, logger: log });
      stage = rig.stage;
    } else {
      stage = createStage(stageCfg, { clock, logger: log });
    }
    return stage;
  };
  appLog.info(
    {
      camera: config.camera.kind,
      stage: stageCfg.driver,
      pipeline: config.scan.pipeline,
      clock: clock.simulated ? 'simulated' : 'real',
      twin: maybeTwin !== null,
      sample: maybeTwin && config.camera.kind === 'twin' ? maybeTwin.sample.id : undefined,
    },
    'adapters chosen',
  );
  const events = async (): Promise<EventsPort> => {
    sink = await createEventSink({ mqtt: config.mqtt }, { clock, logger: log, device: config.device }, { embeddedBroker: false });
    return sink;
  };
  if (config.scan.pipeline === 'frame-loop') {
    return {
      camera: cameraPart,
      stage: stagePart,
      events,
      modelLoader: (active) => OrtWorkerModel.open(active),
      pipeline: () => new FrameLoopPipeline({ role: 'zoom' }),
    };
  }
  if (config.camera.kind !== 'twin') {
    // The scan needs an objective turret; only the twin's is driven today.
    throw new ConfigError('config', [
      {
        path: 'scan.pipeline',
        value: 'scan',
        expected: `"frame-loop" with camera.kind "${config.camera.kind}": no motorised nosepiece driver exists for hardware yet`,
      },
    ]);
  }
  const twin = needTwin(maybeTwin, 'camera.kind');
  const inference = config.inference;
  const stateDir = config.appliance.stateDir;
  const calFile = config.scan.calibrationFile ?? join(stateDir, 'calibration.json');
  return {
    camera: cameraPart,
    stage: stagePart,
    events,
    modelLoader: (active) =>
      OnnxDetector.open({
        bundleDir: active.dir,
        providers: inference.providers,
        intraOpThreads: inference.intraOpThreads,
        tileOverlap: inference.tileOverlap,
        maxQueued: inference.maxQueued,
        warmup: inference.warmup,
        tensorRt: inference.tensorRt,
        logger: log,
      }),
    pipeline: () =>
      new ScanPipeline({
        clock,
        nosepiece: twin.nosepiece,
        sink: () => sink,
        stateDir: join(stateDir, 'scans'),
        calibration: (ctx) => calibrationFor(config, twin, ctx.stage, ctx.camera, calFile, appLog),
        recipe: (id, version) => resolveRecipe(config, twin, id, version),
        recipesDir: config.scan.recipesDir,
      }),
  };
}

/** The calibration file; on the twin, measured at start when it is missing (hardware needs `smartscope calibrate`). */
async function calibrationFor(config: Config, twin: Twin, stage: Stage, camera: FrameSource, path: string, log: Logger): Promise<Calibration> {
  if (existsSync(path)) return loadCalibration(path);
  if (config.camera.kind !== 'twin' || !config.scan.calibrateTwin) {
    throw new Error(`no calibration at ${path}: run "smartscope calibrate" on this instrument first`);
  }
  const cal = await calibrateTwin(twin, stage, camera, log);
  mkdirSync(join(path, '..'), { recursive: true });
  saveCalibration(path, cal);
  return cal;
}

/**
 * `smartscope calibrate`: opens the configured camera, stage and objective turret and measures the calibration.
 * Only the twin has a motorised turret today; with a hardware camera this says so.
 */
export async function measureCalibration(config: Config, log: Logger): Promise<Calibration> {
  if (config.camera.kind !== 'twin') {
    throw new Error(`calibrate needs a motorised objective turret; camera.kind "${config.camera.kind}" has no nosepiece driver yet`);
  }
  const { clock, twin: maybeTwin } = await createInstrument(config);
  const twin = needTwin(maybeTwin, 'camera.kind');
  const camera = createFrameSource(config.camera, { clock, twin: twinCameraBuilder(twin.world, clock) });
  const stageCfg = config.stage;
  const stage =
    stageCfg.driver === 'twin'
      ? (await createTwinStage(twin.world, clock, { protocol: stageCfg.twin.protocol, transport: stageCfg.twin.transport, logger: log })).stage
      : createStage(stageCfg, { clock, logger: log });
  try {
    await camera.open();
    await stage.connect();
    return await calibrateTwin(twin, stage, camera, log);
  } finally {
    await stage.close().catch(() => undefined);
    await camera.close().catch(() => undefined);
  }
}

export async function calibrateTwin(twin: Twin, stage: Stage, camera: FrameSource, log: Logger): Promise<Calibration> {
  const w = twin.world;
  const ref = w.spec.objectives[0]!;
  const [x, y] = w.sampleToStage(w.sample.widthUm / 2, w.sample.heightUm / 2, ref);
  const nominal: Record<string, number> = {};
  const ranges: Record<string, number> = {};
  for (const ob of w.spec.objectives) {
    nominal[ob.name] = pixelSizeUm(ob, w.spec.sensor);
    ranges[ob.name] = ob === ref ? 120 : 12;
  }
  return calibrate({
    stage,
    camera,
    nosepiece: twin.nosepiece,
    clock: twin.clock,
    at: { x, y, z: 0 },
    nominalUmPerPx: nominal,
    focusRangeUm: ranges,
    log: (m) => log.info(m),
  });
}

/** `<scan.recipesDir>/<id>.yaml`; on the twin, recipe id "twin" inspects the whole mounted sample. */
export function resolveRecipe(config: Config, twin: Twin | null, id: string, version?: string): Recipe {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new RangeError(`recipe id must be 1–64 characters of A–Z a–z 0–9 . _ - but is ${JSON.stringify(id)}`);
  let recipe: Recipe;
  if (id === 'twin' && twin && config.camera.kind === 'twin') {
    recipe = parseRecipe({ id: 'twin', version: '1', description: 'The whole sample mounted on the twin.', outline: sampleOutline(twin.world) }, 'twin recipe');
  } else {
    const path = join(config.scan.recipesDir, `${id}.yaml`);
    if (!existsSync(path)) throw new Error(`no recipe "${id}" in ${config.scan.recipesDir}`);
    let data: unknown;
    try {
      data = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`recipe ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    recipe = parseRecipe(data, path);
  }
  if (version && recipe.version !== version) throw new Error(`recipe "${id}" is version ${recipe.version}, not ${version}`);
  return recipe;
}
