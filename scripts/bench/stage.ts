/**
 * npm run bench:stage — the GRBL stage driver against a controller in wall time (RealClock): the twin's firmware
 * simulator over a real pty pair (socat + serialport; family from BENCH_STAGE_FAMILY, default Grbl 1.1h), or a real
 * controller on BENCH_STAGE_PORT (BENCH_STAGE_BAUD, default 115200; BENCH_STAGE_CONFIG: a JSON file with the `stage`
 * section — axes, limits — of that instrument). The same figures come out either way:
 * - round-trip latency of one command (GRBL status query, ProScan "P"), p50/p99, next to a raw byte echo through the
 *   same kind of pty pair (the baseline: what the link itself costs);
 * - commands per second: GRBL lines streamed with character counting, and one-at-a-time round trips;
 * - status-poll overhead: CPU per poll and share of the serial line at the configured poll rate;
 * - a 10 × 10 serpentine of moves measured against the closed-form motion time from the controller's own max rates
 *   and accelerations ($110/$111, $120/$121; moveDurationS in src/sim/stage-physics.ts);
 * - stop latency (stop() during a move until the controller is idle and flushed), jog-cancel latency (abort of a jog
 *   until it is stopped), alarm recovery (a soft-limit ALARM:2 — a target outside machine space, refused by the
 *   controller before any motion — until home() has reset and unlocked it), and the nosepiece change time (the
 *   twin's turret: no motorised nosepiece driver exists yet).
 * On the twin only: ProScan round trips and serpentine, and the serpentine on the twin's SimClock.
 * The last line is one JSON object with every figure.
 */
import { readFileSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { RealClock, SimClock, type Clock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { GRBL_FAMILIES, type GrblFamily } from '../../src/sim/firmware/grbl-families.js';
import type { GrblFirmware } from '../../src/sim/firmware/grbl.js';
import { PtyPair } from '../../src/sim/firmware/pty-pair.js';
import { createTwinStage } from '../../src/sim/firmware/twin-serial-stage.js';
import { moveDurationS, StagePhysics } from '../../src/sim/stage-physics.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import { TwinNosepiece } from '../../src/sim/twin-nosepiece.js';
import { TwinWorld } from '../../src/sim/world.js';
import { parseStageConfig } from '../../src/stage/config.js';
import { createStage } from '../../src/stage/factory.js';
import type { GrblStage } from '../../src/stage/grbl/driver.js';
import type { StagePose } from '../../src/stage/stage.js';

const ROUND_TRIPS = Number(process.env.BENCH_STAGE_ROUND_TRIPS ?? 1000);
const STREAM_LINES = Number(process.env.BENCH_STAGE_STREAM_LINES ?? 2000);
const GRID = 10;
const PITCH_UM = 2500; // a 5x field of view on the default 2048 × 6.5 µm sensor is 2.66 mm

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function round(v: number, d = 3): number {
  return Number(v.toFixed(d));
}

async function open(path: string): Promise<SerialPort> {
  const p = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => p.open((e) => (e ? rej(e) : res())));
  return p;
}

/** Baseline: one byte out and back through a socat pty pair, serialport on both ends. */
async function echoBaseline(n: number): Promise<number[]> {
  const pair = await PtyPair.create();
  const a = await open(pair.firmwarePath);
  const b = await open(pair.hostPath);
  a.on('data', (d: Buffer) => a.write(d));
  const lat: number[] = [];
  await new Promise<void>((resolve) => {
    let t = 0;
    b.on('data', () => {
      lat.push(performance.now() - t);
      if (lat.length >= n) return resolve();
      t = performance.now();
      b.write('?');
    });
    t = performance.now();
    b.write('?');
  });
  await new Promise<void>((r) => a.close(() => r()));
  await new Promise<void>((r) => b.close(() => r()));
  await pair.dispose();
  return lat.sort((x, y) => x - y);
}

interface Limits {
  x: { minUm: number; maxUm: number };
  y: { minUm: number; maxUm: number };
}

/** 10 × 10 fields, 10 % in from the − ends, 2.5 mm apart (less on a stage with under 31 mm of travel). */
function serpentine(l: Limits = defaultWorldSpec().stage): Array<{ x: number; y: number }> {
  const pitch = Math.min(PITCH_UM, 0.08 * (l.x.maxUm - l.x.minUm), 0.08 * (l.y.maxUm - l.y.minUm));
  const x0 = l.x.minUm + 0.1 * (l.x.maxUm - l.x.minUm);
  const y0 = l.y.minUm + 0.1 * (l.y.maxUm - l.y.minUm);
  const pts: Array<{ x: number; y: number }> = [];
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) pts.push({ x: x0 + (r % 2 === 0 ? c : GRID - 1 - c) * pitch, y: y0 + r * pitch });
  }
  return pts;
}

interface AxisRate {
  maxSpeedUmPerS: number;
  accelUmPerS2: number;
}

/** Closed-form motion time (s) of the serpentine, moves run rest-to-rest, without settling. */
function serpentineModelS(spec: { x: AxisRate; y: AxisRate }, pts: Array<{ x: number; y: number }>): number {
  let t = 0;
  for (let i = 1; i < pts.length; i++) {
    const dx = pts[i]!.x - pts[i - 1]!.x;
    const dy = pts[i]!.y - pts[i - 1]!.y;
    const len = Math.hypot(dx, dy);
    let v = Infinity;
    let a = Infinity;
    for (const [d, ax] of [
      [dx, spec.x],
      [dy, spec.y],
    ] as const) {
      const c = Math.abs(d) / len;
      if (c < 1e-12) continue;
      v = Math.min(v, ax.maxSpeedUmPerS / c);
      a = Math.min(a, ax.accelUmPerS2 / c);
    }
    t += moveDurationS(len, v, a);
  }
  return t;
}

async function runSerpentine(protocol: 'grbl' | 'proscan', clock: Clock): Promise<{ measuredS: number; wallS: number; polls: number }> {
  const physics = new StagePhysics(structuredClone(defaultWorldSpec().stage), [0, 0, 0]);
  const rig = await createTwinStage({ physics }, clock, { protocol, transport: 'pty' });
  try {
    await rig.stage.connect();
    const pts = serpentine();
    await rig.stage.moveTo(pts[0]!);
    const before = rig.stage.stats!();
    const t0 = clock.now();
    const w0 = performance.now();
    for (const p of pts.slice(1)) await rig.stage.moveTo(p);
    const after = rig.stage.stats!();
    const polls = protocol === 'grbl' ? after.statusReports! - before.statusReports! : after.busyPolls! - before.busyPolls!;
    return { measuredS: (clock.now() - t0) / 1000, wallS: (performance.now() - w0) / 1000, polls };
  } finally {
    await rig.close();
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Target {
  stage: GrblStage;
  clock: Clock;
  sim: GrblFirmware | null;
  description: string;
  settleMs: number;
  close(): Promise<void>;
}

/** The controller under test: a real one on BENCH_STAGE_PORT, or the twin's simulator over a pty. */
async function openTarget(): Promise<Target> {
  const clock = new RealClock();
  const port = process.env.BENCH_STAGE_PORT;
  if (port) {
    const file = process.env.BENCH_STAGE_CONFIG;
    const section = file ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
    const config = parseStageConfig({ ...section, driver: 'grbl', port, baudRate: Number(process.env.BENCH_STAGE_BAUD ?? 115200) }, file ?? 'BENCH_STAGE_PORT');
    const stage = createStage(config, { clock, logger: silentLogger() }) as GrblStage;
    return { stage, clock, sim: null, description: `GRBL on ${port}`, settleMs: config.settleMs, close: () => stage.close() };
  }
  const family = (process.env.BENCH_STAGE_FAMILY ?? 'grbl') as GrblFamily;
  if (!GRBL_FAMILIES.includes(family)) throw new RangeError(`BENCH_STAGE_FAMILY "${family}" is not one of ${GRBL_FAMILIES.join(', ')}`);
  const physics = new StagePhysics(structuredClone(defaultWorldSpec().stage), [0, 0, 0]);
  const rig = await createTwinStage({ physics }, clock, { protocol: 'grbl', transport: 'pty', grbl: { family } });
  return {
    stage: rig.stage as unknown as GrblStage,
    clock,
    sim: rig.simulator as GrblFirmware,
    description: `twin ${family} simulator over a socat pty`,
    settleMs: rig.config!.settleMs,
    close: () => rig.close(),
  };
}

function rates(stage: GrblStage): { x: AxisRate; y: AxisRate } {
  const axis = (i: number): AxisRate => ({
    maxSpeedUmPerS: ((stage.controllerSetting(110 + i) ?? NaN) * 1000) / 60,
    accelUmPerS2: (stage.controllerSetting(120 + i) ?? NaN) * 1000,
  });
  return { x: axis(0), y: axis(1) };
}

function channelOf(stage: GrblStage): { send(l: string, o?: { timeoutMs?: number | null }): Promise<unknown> } {
  return (stage as unknown as { ch: { send(l: string, o?: { timeoutMs?: number | null }): Promise<unknown> } }).ch;
}

async function grblFigures(out: Record<string, number | string | null>, echo: number[]): Promise<void> {
  const t = await openTarget();
  const { stage } = t;
  out.device = t.description;
  try {
    await stage.connect();
    if (stage.state === 'alarm') await stage.home();
    const l = stage.limits;

    // Round trips: a status query, one at a time.
    const lat: number[] = [];
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const t0 = performance.now();
      await stage.position();
      lat.push(performance.now() - t0);
    }
    const wall = performance.now() - w0;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((x, y) => x - y);
    out.roundTripMsP50 = round(pct(lat, 50));
    out.roundTripMsP99 = round(pct(lat, 99));
    out.roundTripVsEchoP50 = round(pct(lat, 50) / pct(echo, 50), 2);
    out.sequentialCommandsPerSec = Math.round((ROUND_TRIPS / wall) * 1000);
    const reportBytes = 1 + '<Idle|MPos:-90.000,-90.000,0.000|Bf:15,128|FS:0,0>\r\n'.length;
    out.statusPollCpuUsPerPoll = Math.round((cpu.user + cpu.system) / ROUND_TRIPS);
    out.statusPollCpuPctAt5Hz = round(((cpu.user + cpu.system) / ROUND_TRIPS / 1e6) * 5 * 100, 3);
    out.statusPollLinePctAt5Hz = round(((reportBytes * 10 * 5) / 115200) * 100, 2);
    console.log(
      `GRBL status query round trip: p50 ${out.roundTripMsP50} ms, p99 ${out.roundTripMsP99} ms (${out.roundTripVsEchoP50}× a pty byte echo); ${out.sequentialCommandsPerSec} queries/s one at a time`,
    );

    // Streaming: modal-only lines (no motion), character counting vs the plain send-and-wait a user would write.
    const ch = channelOf(stage);
    const s0 = performance.now();
    await Promise.all(Array.from({ length: STREAM_LINES }, () => ch.send('G21G90')));
    out.commandsPerSec = Math.round((STREAM_LINES / (performance.now() - s0)) * 1000);
    const p0 = performance.now();
    const plainLines = Math.min(STREAM_LINES, 500);
    for (let i = 0; i < plainLines; i++) await ch.send('G21G90');
    out.plainSendWaitCommandsPerSec = Math.round((plainLines / (performance.now() - p0)) * 1000);
    out.commandsPerSecVsPlain = round((out.commandsPerSec as number) / (out.plainSendWaitCommandsPerSec as number), 2);
    if (t.sim) out.rxOverflowBytes = t.sim.stats.rxOverflowBytes;
    console.log(
      `GRBL lines streamed with character counting: ${out.commandsPerSec} commands/s (${out.commandsPerSecVsPlain}× send-and-wait, ${out.plainSendWaitCommandsPerSec}/s)`,
    );

    // Serpentine against the closed form from the controller's own rates.
    const pts = serpentine(l);
    const spec = rates(stage);
    const moves = pts.length - 1;
    const model = serpentineModelS(spec, pts);
    out.serpentineModelS = round(model);
    out.serpentineModelWithSettleS = round(model + (moves * t.settleMs) / 1000);
    await stage.moveTo(pts[0]!);
    const polls0 = stage.stats().statusReports!;
    const m0 = performance.now();
    for (const p of pts.slice(1)) await stage.moveTo(p);
    out.serpentineMeasuredS = round((performance.now() - m0) / 1000);
    out.serpentineVsModelWithSettle = round((out.serpentineMeasuredS as number) / (out.serpentineModelWithSettleS as number), 3);
    out.serpentineStatusPolls = stage.stats().statusReports! - polls0;
    console.log(
      `10×10 serpentine (${moves} moves): ${out.serpentineMeasuredS} s measured; model ${out.serpentineModelS} s motion + ${(moves * t.settleMs) / 1000} s settle = ${out.serpentineModelWithSettleS} s (×${out.serpentineVsModelWithSettle})`,
    );

    // Stop latency: stop() during a long move until the controller is idle with its planner flushed.
    const mid: StagePose = { ...(await stage.position()), x: l.x.minUm + 0.1 * (l.x.maxUm - l.x.minUm) };
    const far = l.x.minUm + 0.8 * (l.x.maxUm - l.x.minUm);
    const stops: number[] = [];
    for (let i = 0; i < 5; i++) {
      await stage.moveTo({ x: mid.x });
      const moving = new Promise<void>((res) => stage.once('state', () => res()));
      const move = stage.moveTo({ x: far }).catch(() => undefined);
      await moving;
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await stage.stop();
      stops.push(performance.now() - t0);
      await move;
    }
    out.stopLatencyMs = round(median(stops), 1);

    // Jog cancel latency: abort a jog until it has stopped.
    const jogs: number[] = [];
    for (let i = 0; i < 5; i++) {
      await stage.moveTo({ x: mid.x });
      const ac = new AbortController();
      const moving = new Promise<void>((res) => stage.once('state', () => res()));
      const jog = stage.jog({ x: far - mid.x }, { feedUmPerS: 5000, signal: ac.signal }).catch(() => undefined);
      await moving;
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      ac.abort();
      await jog;
      jogs.push(performance.now() - t0);
    }
    out.jogCancelLatencyMs = round(median(jogs), 1);
    console.log(`stop() latency ${out.stopLatencyMs} ms, jog cancel (0x85) latency ${out.jogCancelLatencyMs} ms (medians of 5)`);

    // Alarm recovery: a target outside machine space (+1 mm) with soft limits on is refused before any motion (ALARM:2).
    if (stage.controllerSetting(20) === 1) {
      const alarmed = new Promise<number>((res) => stage.on('state', (st: string) => st === 'alarm' && res(performance.now())));
      void ch.send('G21G90G53G0X1', { timeoutMs: null }).catch(() => undefined);
      const t0 = await alarmed;
      await stage.home();
      await stage.moveTo({ x: mid.x });
      out.alarmRecoveryS = round((performance.now() - t0) / 1000);
      console.log(`soft-limit alarm to the next move done: ${out.alarmRecoveryS} s (wait for [MSG:Reset to continue], reset, $X, one move)`);
    } else {
      out.alarmRecoveryS = null;
      console.log('alarm recovery not measured: soft limits are off ($20=0), and a target outside travel would really move');
    }
  } finally {
    await t.close();
  }
}

async function nosepieceFigure(out: Record<string, number | string | null>): Promise<void> {
  // No motorised nosepiece driver exists yet: the twin's turret (its modelled change time) in wall time.
  const clock = new RealClock();
  const spec = defaultWorldSpec();
  const world = new TwinWorld(spec, new SyntheticSample({ seed: 1, widthUm: 1000, heightUm: 1000, defectDensity: 0 }), clock);
  const turret = new TwinNosepiece(world, clock);
  const [a, b] = turret.objectives;
  const t0 = performance.now();
  await turret.select(b!);
  await turret.select(a!);
  out.nosepieceChangeS = round((performance.now() - t0) / 2000);
  out.nosepieceSource = `twin turret (${spec.objectiveChangeMs} ms modelled); no motorised nosepiece driver yet`;
  console.log(`objective change: ${out.nosepieceChangeS} s (${out.nosepieceSource})`);
}

async function main(): Promise<void> {
  const spec = defaultWorldSpec().stage;
  const out: Record<string, number | string | null> = {};

  // Baseline: the link alone.
  const echo = await echoBaseline(ROUND_TRIPS);
  out.baselineEchoMsP50 = round(pct(echo, 50));
  out.baselineEchoMsP99 = round(pct(echo, 99));
  console.log(`pty byte echo (baseline): p50 ${out.baselineEchoMsP50} ms, p99 ${out.baselineEchoMsP99} ms`);

  await grblFigures(out, echo);
  await nosepieceFigure(out);

  if (!process.env.BENCH_STAGE_PORT) {
    // ProScan: "P" round trips.
    const clock = new RealClock();
    const physics = new StagePhysics(structuredClone(spec), [0, 0, 0]);
    const rig = await createTwinStage({ physics }, clock, { protocol: 'proscan', transport: 'pty' });
    try {
      await rig.stage.connect();
      const lat: number[] = [];
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const t = performance.now();
        await rig.stage.position();
        lat.push(performance.now() - t);
      }
      lat.sort((x, y) => x - y);
      out.proscanRoundTripMsP50 = round(pct(lat, 50));
      out.proscanRoundTripMsP99 = round(pct(lat, 99));
      console.log(`ProScan "P" round trip: p50 ${out.proscanRoundTripMsP50} ms, p99 ${out.proscanRoundTripMsP99} ms`);
    } finally {
      await rig.close();
    }
    const pro = await runSerpentine('proscan', new RealClock());
    out.proscanSerpentineMeasuredS = round(pro.measuredS);
    out.proscanSerpentineVsModelWithSettle = round(pro.measuredS / (out.serpentineModelWithSettleS as number), 3);
    out.proscanSerpentineBusyPolls = pro.polls;
    console.log(`same serpentine, ProScan over pty: ${out.proscanSerpentineMeasuredS} s (×${out.proscanSerpentineVsModelWithSettle}), ${pro.polls} "$" polls`);
    const twin = await runSerpentine('grbl', new SimClock());
    out.twinSerpentineInstrumentS = round(twin.measuredS);
    out.twinSerpentineWallS = round(twin.wallS);
    out.twinSpeedup = round(twin.measuredS / twin.wallS, 1);
    console.log(
      `same serpentine on the twin's SimClock (GRBL over pty): ${out.twinSerpentineInstrumentS} s instrument time in ${out.twinSerpentineWallS} s wall (${out.twinSpeedup}× faster than real time)`,
    );
  }

  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
