/**
 * bench:ui — what the web page costs the scan, and how fast it shows what the scan publishes.
 *
 * The same twin sample is scanned with the web page served and nobody watching, then with three headless-chromium
 * pages open on it (each with the live MJPEG stream and the event stream), alternately, BENCH_UI_REPS times each.
 * Events go out over MQTT through the embedded broker; an MQTT subscriber and the pages both note when each defect
 * event arrives.
 *
 * Last line: { viewers, throughputRatio (frames per wall second with viewers ÷ without), instrumentTimeRatio,
 * eventToPageMsP95 (page arrival − MQTT arrival, per defect event), liveFps, droppedViewerFrames, … }.
 * BENCH_UI_CLIENTS=http: the viewers are HTTP clients reading the live and event streams, as browsers on other machines
 * would (on the appliance the pages do not run on its CPU); otherwise chromium pages on this machine.
 * Env: BENCH_UI_REPS (default 1), BENCH_SIZE_MM (default 1.5), BENCH_UI_VIEWERS (default 3), BENCH_UI_SENSOR_PX (the
 * twin camera's sensor side; default the twin's).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { get } from 'node:http';
import puppeteer from 'puppeteer-core';
import { parseConfig } from '../../src/config/load.js';
import { TwinLoop } from '../../src/demo/twin-loop.js';
import type { InferenceConfig } from '../../src/inference/config.js';
import { openDetector } from '../../src/inference/factory.js';
import { scanDetector } from '../../src/appliance/scan-detector.js';
import { scanSinkFor } from '../../src/appliance/scan-sink.js';
import { SimClock } from '../../src/kernel/clock.js';
import { createLogger } from '../../src/kernel/logger.js';
import type { MqttConfig } from '../../src/publish/config.js';
import { createEventSink } from '../../src/publish/index.js';
import { saveCalibration } from '../../src/scan/calibration.js';
import { ScanControl } from '../../src/scan/control.js';
import { worldSpecFromConfig } from '../../src/sim/config.js';
import { twinNominalCalibration } from '../../src/sim/nominal-calibration.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import type { WebConfig } from '../../src/web/config.js';
import { startTwinWeb } from '../../src/appliance/twin-web.js';

const reps = Number(process.env.BENCH_UI_REPS ?? 1);
const sizeMm = Number(process.env.BENCH_SIZE_MM ?? 1.5);
const viewers = Number(process.env.BENCH_UI_VIEWERS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'smartscope-bench-ui-'));
const sensorPx = process.env.BENCH_UI_SENSOR_PX ? Number(process.env.BENCH_UI_SENSOR_PX) : undefined;
const cfg = parseConfig({ web: { port: 0 }, ...(sensorPx ? { twin: { sensor: { widthPx: sensorPx, heightPx: sensorPx } } } : {}) });
const logger = createLogger({ level: 'warn', destination: process.stderr });
const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
const mqttCfg = { ...(cfg.mqtt as MqttConfig), outbox: { ...(cfg.mqtt as MqttConfig).outbox, dir: join(dir, 'outbox') } };
const sink = await createEventSink({ mqtt: mqttCfg }, { clock, logger, device: cfg.device });
const mqttArrival = new Map<string, number>();
const mes = await mqtt.connectAsync(sink.url, { protocolVersion: 4, clientId: `bench-ui-${process.pid}` });
await mes.subscribeAsync(`${sink.topics.base}/events/defect`, { qos: 1 });
mes.on('message', (_t, payload) => {
  const id = (JSON.parse(payload.toString()) as { eventId?: string }).eventId;
  if (id && !mqttArrival.has(id)) mqttArrival.set(id, Date.now());
});
// The calibration from the twin's optics (calibrating is not what this measures, and takes minutes on a busy machine).
saveCalibration(join(dir, 'calibration.json'), twinNominalCalibration(worldSpecFromConfig(cfg.twin)));
const web = await startTwinWeb({ config: cfg.web as WebConfig, stateDir: dir, logger, device: 'bench/ui/1' });
const inference = cfg.inference as InferenceConfig;
const survey = await openDetector(inference, 'survey', logger);
const zoom = await openDetector(inference, 'zoom', logger);
const loop = new TwinLoop({
  twin: cfg.twin,
  clock,
  stateDir: dir,
  logger,
  protocol: 'grbl',
  transport: 'stream',
  detectors: { survey: scanDetector(survey, { probabilityMaxSide: 256 }), zoom: scanDetector(zoom, { probabilityMaxSide: 256 }) },
  sink: scanSinkFor(sink),
  wrapDeps: web.wrapDeps,
});
// Chromium comes with `scripts/bootstrap --test`; without it the viewers are HTTP clients (said on stderr).
const clients = process.env.BENCH_UI_CLIENTS === 'http' || !existsSync('/usr/bin/chromium') ? 'http' : 'chromium';
if (clients === 'http' && process.env.BENCH_UI_CLIENTS !== 'http')
  process.stderr.write('bench:ui: no /usr/bin/chromium (scripts/bootstrap --test installs it): viewers are HTTP clients\n');
const browser =
  clients === 'chromium'
    ? await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
    : null;

interface Run {
  viewers: number;
  frames: number;
  wallMs: number;
  instrumentMs: number;
  liveFrames: number;
  dropped: number;
  defects: string[];
}

let n = 0;
let faults = 0;

/** One person watching: a chromium page, or (BENCH_UI_CLIENTS=http) a client elsewhere reading the same streams. */
interface Viewer {
  /** Arrival (wall ms) of each defect event the viewer has received. */
  defects(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

async function pageViewer(): Promise<Viewer> {
  const p = await browser!.newPage();
  await p.setViewport({ width: 1280, height: 800 });
  // Generous time-outs: on a loaded build machine a new chromium page takes a while to start.
  await p.goto(web.url, { waitUntil: 'load', timeout: 300_000 });
  await p.waitForFunction(() => (globalThis as unknown as { smartscope: { current: unknown } }).smartscope.current !== null, { timeout: 300_000 });
  return {
    defects: async () =>
      new Map(
        await p.evaluate(() =>
          (globalThis as unknown as { smartscope: { received: Array<{ type: string; id: string; recv: number }> } }).smartscope.received
            .filter((e) => e.type === 'defect')
            .map((e) => [e.id, e.recv] as [string, number]),
        ),
      ),
    close: () => p.close(),
  };
}

function httpViewer(): Viewer {
  const arrivals = new Map<string, number>();
  const reqs = [
    get(`${web.url}api/live.mjpg`, { agent: false }, (res) => res.resume()),
    get(`${web.url}api/events`, { agent: false }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!msg.includes('event: defect')) continue;
          const data = JSON.parse(msg.slice(msg.indexOf('data: ') + 6)) as { eventId: string };
          if (!arrivals.has(data.eventId)) arrivals.set(data.eventId, Date.now());
        }
      });
    }),
  ];
  return { defects: async () => arrivals, close: async () => reqs.forEach((r) => r.destroy()) };
}

async function scanOnce(withViewers: boolean): Promise<Run> {
  const pages: Viewer[] = [];
  if (withViewers) {
    for (let k = 0; k < viewers; k++) pages.push(browser ? await pageViewer() : httpViewer());
    // Every viewer has its live stream open before the scan starts.
    for (let t = 0; web.page.live.viewers < viewers; t++) {
      if (t > 3000) throw new Error(`only ${web.page.live.viewers} live viewers connected`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const live = web.page.live;
  const [frames0, enc0, drop0] = [live.offered, live.encoded, live.dropped];
  const sample = new SyntheticSample({ seed: 7, id: `bench-ui-${n}`, widthUm: sizeMm * 1000, heightUm: sizeMm * 1000, defectDensity: 0.004 });
  const control = new ScanControl();
  // A device fault (on a busy build machine: a twin frame later than the camera's time-out) pauses the scan; the
  // benchmark resumes it as an operator would, and counts it.
  control.on('state', (st: string) => {
    if (st === 'faulted') {
      faults++;
      setImmediate(() => control.resume());
    }
  });
  web.attach(control);
  const t0 = performance.now();
  const r = await loop.scanSample({ sampleId: sample.id, lot: 'bench', sample }, `bench-ui-${n++}`, control);
  const wallMs = performance.now() - t0;
  const run: Run = {
    viewers: pages.length,
    frames: live.offered - frames0,
    wallMs,
    instrumentMs: r.result.summary.time.totalMs,
    liveFrames: live.encoded - enc0,
    dropped: live.dropped - drop0,
    defects: r.result.defects.map((d) => d.eventId),
  };
  if (pages.length) {
    await sink.drained(20_000);
    // Wait until every viewer has every defect of this scan (or give up after 20 s and count what arrived).
    const want = new Set(run.defects);
    for (let t = 0; t < 2000; t++) {
      const got = await Promise.all(pages.map((p) => p.defects()));
      if (got.every((m) => [...want].every((id) => m.has(id))) && [...want].every((id) => mqttArrival.has(id))) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    for (const p of pages) {
      for (const [id, recv] of await p.defects()) if (want.has(id) && mqttArrival.has(id)) lat.push(recv - mqttArrival.get(id)!);
      await p.close();
    }
  }
  process.stderr.write(`${JSON.stringify({ ...run, defects: run.defects.length })}\n`);
  return run;
}

const lat: number[] = [];
const runs: Run[] = [];
try {
  for (let k = 0; k < reps; k++) {
    runs.push(await scanOnce(false));
    runs.push(await scanOnce(true));
  }
} finally {
  await browser?.close();
  await survey.close();
  await zoom.close();
  await mes.endAsync();
  await sink.close();
  await web.close();
}
const fps = (rs: Run[]): number => rs.reduce((a, r) => a + r.frames, 0) / (rs.reduce((a, r) => a + r.wallMs, 0) / 1000);
const without = runs.filter((r) => r.viewers === 0);
const withV = runs.filter((r) => r.viewers > 0);
const sorted = [...lat].sort((a, b) => a - b);
const p95 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]! : null;
const wallWith = withV.reduce((a, r) => a + r.wallMs, 0) / 1000;
console.log(
  JSON.stringify({
    viewers,
    clients,
    reps,
    sampleMm: sizeMm,
    sensorPx: cfg.twin.sensor.widthPx,
    framesPerWallSWithout: +fps(without).toFixed(2),
    framesPerWallSWith: +fps(withV).toFixed(2),
    throughputRatio: +(fps(withV) / fps(without)).toFixed(3),
    instrumentTimeRatio: +(withV.reduce((a, r) => a + r.instrumentMs, 0) / without.reduce((a, r) => a + r.instrumentMs, 0)).toFixed(4),
    defectEvents: lat.length,
    eventToPageMsP50: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
    eventToPageMsP95: p95,
    liveFps: +(withV.reduce((a, r) => a + r.liveFrames, 0) / wallWith).toFixed(2),
    droppedViewerFrames: withV.reduce((a, r) => a + r.dropped, 0),
    deviceFaultsResumed: faults,
  }),
);
process.exit(0);
