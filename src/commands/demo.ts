/**
 * `smartscope demo`: the full feedback loop on the digital twin over a batch of samples, with events on MQTT (an
 * embedded broker when `mqtt.url` is not configured). Everything it prints is computed by this run: detections come
 * from the shipped models, scores from comparing them with the twin's ground truth, times from the instrument clock.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { createEventSink } from '../publish/index.js';
import { scanSinkFor } from '../appliance/scan-sink.js';
import { waitForDelivery } from '../publish/delivery.js';
import { openDetector } from '../inference/factory.js';
import { scanDetector } from '../appliance/scan-detector.js';
import { createLogger } from '../kernel/logger.js';
import { SimClock } from '../kernel/clock.js';
import { progress } from '../kernel/progress.js';
import { BatchQueue } from '../scan/batch.js';
import { SyntheticSample } from '../sim/synthetic-sample.js';
import { TwinLoop, type TwinSampleResult } from '../demo/twin-loop.js';
import { formatDemoReport } from '../demo/report.js';
import { ScanControl } from '../scan/control.js';
import { startDemoWeb } from '../appliance/twin-web.js';

/** Acceptance criteria of the demo's twin recipe (recipe reference: docs/recipe.md). */
export const DEMO_ACCEPTANCE = { maxDefectsPerCm2: { total: 500, crack: 25 }, maxDefectSizeUm: { scratch: 400, pit: 60 }, minConfidence: 0.6 };
import { loadConfig } from './config.js';

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return n;
  };
}

function densities(v: string): number[] {
  const out = v.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || out.some((d) => !(d >= 0.0005 && d <= 0.05)))
    throw new InvalidArgumentError(`--density takes fractions in [0.0005, 0.05] separated by commas, got ${JSON.stringify(v)}`);
  return out;
}

export interface DemoOptions {
  samples: number;
  sizeMm: number;
  density: number[];
  seed: number;
  protocol: 'grbl' | 'proscan' | 'direct';
  transport: 'stream' | 'pty';
  stateDir: string;
  drainTimeoutS: number;
  json?: boolean;
  verbose?: boolean;
  webPort?: number;
  keepServing?: boolean;
}

/** sysexits EX_TEMPFAIL: the scans ran, but events are still queued for the broker; running again delivers them. */
export const EXIT_EVENTS_QUEUED = 75;

export interface DemoOutcome {
  results: TwinSampleResult[];
  /** Events still in the outbox when the demo ended (0: the broker acknowledged everything). */
  pendingEvents: number;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('scan a batch of digital-twin samples: survey → AI candidates → stage → zoom → confirm, events over MQTT')
    .option('--samples <n>', 'number of samples in the batch', num('--samples', 1, 100), 2)
    .option('--size-mm <mm>', 'side of each square sample', num('--size-mm', 1, 50), 2)
    .option('--density <list>', 'defect area fraction per sample, cycled (e.g. 0.002,0.005)', densities, [0.002, 0.005])
    .option('--seed <n>', 'seed of the first sample (the others follow)', num('--seed', 0, 4294967295), 1)
    .option('--protocol <p>', 'stage controller protocol spoken to the simulated firmware: grbl, proscan or direct', 'grbl')
    .option('--transport <t>', 'link to the simulated firmware: stream (in process) or pty (socat + serialport)', 'stream')
    .option('--state-dir <dir>', 'where journals, outbox, calibration and report images go', 'var/demo')
    .option('--drain-timeout-s <s>', 'how long to wait, at the end, for the broker to take every queued event', num('--drain-timeout-s', 0, 86_400), 120)
    .option('--json', 'print the results as JSON')
    .option('--verbose', 'log at info level to stderr')
    .option('--web-port <n>', 'port of the web page (default web.port; any free port when that one is busy)', num('--web-port', 0, 65535))
    .option('--keep-serving', 'keep the web page up after the batch until Ctrl-C')
    .action(async (opts: DemoOptions) => {
      if (!['grbl', 'proscan', 'direct'].includes(opts.protocol))
        throw new InvalidArgumentError(`--protocol must be grbl, proscan or direct, got ${opts.protocol}`);
      if (!['stream', 'pty'].includes(opts.transport)) throw new InvalidArgumentError(`--transport must be stream or pty, got ${opts.transport}`);
      const { results, pendingEvents } = await runDemo(program, opts);
      process.exitCode = pendingEvents > 0 ? EXIT_EVENTS_QUEUED : results.every((r) => r.result.summary.state === 'finished') ? 0 : 1;
    });
}

export async function runDemo(program: Command, opts: DemoOptions): Promise<DemoOutcome> {
  const cfg = loadConfig(program);
  const stateDir = resolve(opts.stateDir);
  const runDir = join(stateDir, 'run');
  // Each demo run starts from an empty batch; the calibration is kept between runs (the instrument did not change),
  // and so is the outbox: events an earlier run could not deliver go out first, never deleted.
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const logger = createLogger({ level: opts.verbose ? 'info' : 'warn', destination: process.stderr });
  const clock = new SimClock(new Date());
  const mqttCfg = { ...cfg.mqtt, outbox: { ...cfg.mqtt.outbox, dir: join(stateDir, 'outbox') } };
  const sink = await createEventSink({ mqtt: mqttCfg }, { clock, logger, device: cfg.device });
  const out = (s: string): void => {
    if (!opts.json) process.stdout.write(s);
  };
  // A subscriber standing in for the MES: it counts what actually arrives over MQTT.
  const received = { defects: 0, thumbnails: 0, scans: 0 };
  // It keeps trying while the broker is away (the demo goes on; events wait in the outbox).
  const mes = mqtt.connect(sink.url, { protocolVersion: 4, clientId: `smartscope-demo-mes-${process.pid}`, reconnectPeriod: 1000, connectTimeout: 5000 });
  mes.on('error', () => undefined);
  mes.on('connect', () => void mes.subscribeAsync(`${sink.topics.base}/#`, { qos: 1 }).catch(() => undefined));
  mes.on('message', (topic) => {
    if (topic.endsWith('/events/defect')) received.defects++;
    else if (topic.includes('/thumbnails/')) received.thumbnails++;
    else if (topic.endsWith('/events/scan')) received.scans++;
  });
  const web = await startDemoWeb(cfg, runDir, logger, opts.webPort);
  if (web) out(`web page: ${web.url}\n`);
  out(
    `smartscope demo: ${opts.samples} twin sample(s) of ${opts.sizeMm} × ${opts.sizeMm} mm; events to ${sink.url}${cfg.mqtt && cfg.mqtt.url ? '' : ' (embedded broker)'}\n`,
  );
  const leftover = sink.health().pendingEvents;
  if (leftover > 0) out(`  ${leftover} event(s) an earlier run could not deliver are still queued in ${mqttCfg.outbox.dir}: they go first\n`);

  const inference = cfg.inference;
  const surveyDet = await openDetector(inference, 'survey', logger);
  const zoomDet = await openDetector(inference, 'zoom', logger);
  const loop = new TwinLoop({
    twin: cfg.twin,
    clock,
    stateDir: runDir,
    logger,
    grabTimeoutMs: cfg.camera.grabTimeoutMs,
    protocol: opts.protocol,
    transport: opts.transport,
    detectors: { survey: scanDetector(surveyDet, { probabilityMaxSide: 512 }), zoom: scanDetector(zoomDet, { probabilityMaxSide: 512 }) },
    sink: scanSinkFor(sink),
    // The demo judges each sample as a plant would: a polished part with a limit on defects per cm² and on size.
    recipe: { acceptance: DEMO_ACCEPTANCE },
    ...(web ? { wrapDeps: web.wrapDeps } : {}),
    onProgress: (p) => bar.update(p.done, p.total, `${p.sampleId} ${p.phase}`),
  });
  let bar = progress('scan', { enabled: !opts.json });
  const calPath = join(stateDir, 'calibration.json');
  if (existsSync(calPath)) {
    // Reuse a calibration measured by an earlier run on this twin instrument.
    const { copyFileSync } = await import('node:fs');
    copyFileSync(calPath, join(runDir, 'calibration.json'));
  }

  // The samples arrive as an unattended batch: queued first, then scanned in order.
  const queue = new BatchQueue(join(runDir, 'queue.json'), () => clock.wallTime());
  const samples = new Map<string, SyntheticSample>();
  for (let k = 0; k < opts.samples; k++) {
    const seed = opts.seed + k;
    const density = opts.density[k % opts.density.length]!;
    const sampleId = `twin-${seed}`;
    out(`  generating sample ${sampleId}: defect density ${(density * 100).toFixed(2)} % of area\n`);
    samples.set(
      sampleId,
      new SyntheticSample({
        seed,
        id: sampleId,
        widthUm: opts.sizeMm * 1000,
        heightUm: opts.sizeMm * 1000,
        defectDensity: density,
        texture: cfg.twin.sample.texture,
        grainSizeUm: cfg.twin.sample.grainSizeUm,
      }),
    );
    queue.enqueue({ sampleId, lot: 'demo-lot', recipeId: 'twin-demo' });
  }
  const results: TwinSampleResult[] = [];
  let delivery = { pending: sink.health().pendingEvents, delivered: 0, waitedMs: 0 };
  try {
    for (let job = queue.next(); job; job = queue.next()) {
      queue.update(job.scanId, { state: 'running', startedAt: clock.wallTime().toISOString() });
      bar = progress(`scan ${job.sampleId}`, { enabled: !opts.json });
      try {
        const control = new ScanControl();
        web?.attach(control);
        const r = await loop.scanSample({ sampleId: job.sampleId, lot: job.lot, sample: samples.get(job.sampleId)! }, job.scanId, control);
        bar.done();
        const s = r.result.summary;
        queue.update(job.scanId, {
          state: s.state === 'finished' ? 'done' : s.state,
          endedAt: clock.wallTime().toISOString(),
          result: `${s.verdict.toUpperCase()} ${s.confirmed} defects`,
        });
        results.push(r);
        out(formatDemoReport([r], { header: false }));
      } catch (err) {
        bar.done();
        queue.update(job.scanId, { state: 'failed', endedAt: clock.wallTime().toISOString(), result: (err as Error).message });
        throw err;
      }
    }
    if (existsSync(join(runDir, 'calibration.json'))) {
      const { copyFileSync } = await import('node:fs');
      copyFileSync(join(runDir, 'calibration.json'), calPath);
    }
    // Every event is durable in the outbox; wait (with progress) until the broker has taken them all.
    const waitBar = progress('delivering events', { enabled: !opts.json });
    let lastLine = 0;
    delivery = await waitForDelivery(sink, {
      timeoutMs: opts.drainTimeoutS * 1000,
      onProgress: (p) => {
        waitBar.update(p.delivered, p.delivered + p.pending, p.connected ? '' : '(broker not reachable)');
        if (!process.stderr.isTTY && !opts.json && p.elapsedMs - lastLine >= 5000) {
          lastLine = p.elapsedMs;
          process.stderr.write(
            `waiting for the broker at ${sink.url}: ${p.pending} event(s) queued, ${Math.round(p.elapsedMs / 1000)} s of ${opts.drainTimeoutS} s\n`,
          );
        }
      },
    });
    waitBar.done();
    if (delivery.pending === 0) {
      // The broker has them; wait (bounded) until the subscriber has been sent what it subscribed to.
      const publishedNow = results.reduce((a, r) => a + r.result.defects.length, 0);
      const until = Date.now() + 5000;
      while (received.defects < publishedNow && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await surveyDet.close();
    await zoomDet.close();
    await mes.endAsync(true);
    await sink.close();
    if (web && opts.keepServing) {
      out(`web page still at ${web.url} — Ctrl-C to stop\n`);
      await new Promise((r) => process.once('SIGINT', r));
    }
    await web?.close();
  }
  const published = results.reduce((a, r) => a + r.result.defects.length, 0);
  const pendingEvents = delivery.pending;
  const report = {
    results: results.map(summaryOf),
    mqtt: { url: sink.url, defectEventsPublished: published, received, pendingEvents, outboxDir: mqttCfg.outbox.dir },
  };
  writeFileSync(join(runDir, 'demo-results.json'), `${JSON.stringify(report, null, 1)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    out(formatDemoReport(results, { header: true }));
    out(
      `MQTT: ${published} defect events published; the subscriber received ${received.defects} defect events, ${received.thumbnails} thumbnails, ${received.scans} scan events\n`,
    );
    out(`results: ${join(runDir, 'demo-results.json')}\n`);
  }
  if (pendingEvents > 0) {
    process.stderr.write(
      `smartscope demo: ${pendingEvents} event(s) are still queued in ${mqttCfg.outbox.dir}: the broker at ${sink.url} did not take them within ${opts.drainTimeoutS} s. ` +
        `They are kept and delivered first by the next run with --state-dir ${opts.stateDir} (exit ${EXIT_EVENTS_QUEUED})\n`,
    );
  }
  return { results, pendingEvents };
}

function summaryOf(r: TwinSampleResult): Record<string, unknown> {
  return { sampleId: r.sampleId, summary: r.result.summary, score: r.score, wallMs: Math.round(r.wallMs) };
}
