/**
 * npm run bench:stage — the stage drivers over a real pty pair (socat + serialport), against the twin's firmware
 * simulators, in wall time (RealClock):
 * - round-trip latency of one command (GRBL status query, ProScan "P"), p50/p99, next to a raw byte echo through the
 *   same kind of pty pair (the baseline: what the link itself costs);
 * - commands per second: GRBL lines streamed with character counting, and one-at-a-time round trips;
 * - status-poll overhead: CPU per poll and share of the serial line at the configured poll rate;
 * - a 10 × 10 serpentine of moves measured against the closed-form motion time of the simulated stage
 *   (moveDurationS in src/sim/stage-physics.ts), for GRBL and ProScan; and the same serpentine on the twin's SimClock.
 * The last line is one JSON object with every figure.
 */
import { SerialPort } from 'serialport';
import { RealClock, SimClock, type Clock } from '../../src/kernel/clock.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { PtyPair } from '../../src/sim/firmware/pty-pair.js';
import { createTwinStage } from '../../src/sim/firmware/twin-serial-stage.js';
import { moveDurationS, StagePhysics, type StagePhysicsSpec } from '../../src/sim/stage-physics.js';
import type { GrblStage } from '../../src/stage/grbl/driver.js';

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

function serpentine(): Array<{ x: number; y: number }> {
  const pts: Array<{ x: number; y: number }> = [];
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) pts.push({ x: 10_000 + (r % 2 === 0 ? c : GRID - 1 - c) * PITCH_UM, y: 10_000 + r * PITCH_UM });
  }
  return pts;
}

/** Closed-form motion time (s) of the serpentine on the simulated stage, moves run rest-to-rest, without settling. */
function serpentineModelS(spec: StagePhysicsSpec, pts: Array<{ x: number; y: number }>): number {
  let t = 0;
  for (let i = 1; i < pts.length; i++) {
    const dx = pts[i]!.x - pts[i - 1]!.x;
    const dy = pts[i]!.y - pts[i - 1]!.y;
    const len = Math.hypot(dx, dy);
    let v = Infinity;
    let a = Infinity;
    for (const [d, ax] of [[dx, spec.x], [dy, spec.y]] as const) {
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

async function main(): Promise<void> {
  const spec = defaultWorldSpec().stage;
  const out: Record<string, number | string> = {};

  // Baseline: the link alone.
  const echo = await echoBaseline(ROUND_TRIPS);
  out.baselineEchoMsP50 = round(pct(echo, 50));
  out.baselineEchoMsP99 = round(pct(echo, 99));
  console.log(`pty byte echo (baseline): p50 ${out.baselineEchoMsP50} ms, p99 ${out.baselineEchoMsP99} ms`);

  // GRBL: status-query round trips, streamed lines, poll cost.
  {
    const clock = new RealClock();
    const physics = new StagePhysics(structuredClone(spec), [0, 0, 0]);
    const rig = await createTwinStage({ physics }, clock, { protocol: 'grbl', transport: 'pty' });
    try {
      await rig.stage.connect();
      const stage = rig.stage as unknown as GrblStage;
      const lat: number[] = [];
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const t = performance.now();
        await stage.position();
        lat.push(performance.now() - t);
      }
      const wall = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      lat.sort((x, y) => x - y);
      out.roundTripMsP50 = round(pct(lat, 50));
      out.roundTripMsP99 = round(pct(lat, 99));
      out.roundTripVsEchoP50 = round(pct(lat, 50) / pct(echo, 50), 2);
      out.sequentialCommandsPerSec = Math.round((ROUND_TRIPS / wall) * 1000);
      // A status poll: one '?' out, one report back (measured length), driver and firmware simulator in this process.
      const reportBytes = 1 + '<Idle|MPos:10000.000,10000.000,0.000|Bf:15,128|FS:0,0>\r\n'.length;
      out.statusPollCpuUsPerPoll = Math.round((cpu.user + cpu.system) / ROUND_TRIPS);
      out.statusPollCpuPctAt5Hz = round(((cpu.user + cpu.system) / ROUND_TRIPS / 1e6) * 5 * 100, 3);
      out.statusPollLinePctAt5Hz = round(((reportBytes * 10 * 5) / 115200) * 100, 2);
      console.log(
        `GRBL status query round trip: p50 ${out.roundTripMsP50} ms, p99 ${out.roundTripMsP99} ms (${out.roundTripVsEchoP50}× the echo); ${out.sequentialCommandsPerSec} queries/s one at a time`,
      );
      console.log(`status poll overhead: ${out.statusPollCpuUsPerPoll} µs CPU per poll (driver + simulator), ${out.statusPollCpuPctAt5Hz} % of a core and ${out.statusPollLinePctAt5Hz} % of a 115200-baud line at 5 Hz`);

      // Streaming: lines acknowledged per second with character counting keeping the 128-byte buffer full.
      const ch = (stage as unknown as { ch: { send(l: string): Promise<unknown> } }).ch;
      const s0 = performance.now();
      await Promise.all(Array.from({ length: STREAM_LINES }, () => ch.send('G21G90')));
      out.commandsPerSec = Math.round((STREAM_LINES / (performance.now() - s0)) * 1000);
      out.rxOverflowBytes = rig.simulator!.stats.rxOverflowBytes;
      console.log(`GRBL lines streamed with character counting: ${out.commandsPerSec} commands/s (receive-buffer overflow: ${out.rxOverflowBytes} bytes)`);
    } finally {
      await rig.close();
    }
  }

  // ProScan: "P" round trips.
  {
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
  }

  // Serpentine.
  const pts = serpentine();
  const model = serpentineModelS(spec, pts);
  const moves = pts.length - 1;
  out.serpentineModelS = round(model);
  out.serpentineModelWithSettleS = round(model + (moves * spec.settleMs) / 1000);
  const grbl = await runSerpentine('grbl', new RealClock());
  out.serpentineMeasuredS = round(grbl.measuredS);
  out.serpentineVsModelWithSettle = round(grbl.measuredS / (out.serpentineModelWithSettleS as number), 3);
  out.serpentineStatusPolls = grbl.polls;
  console.log(
    `10×10 serpentine (${moves} moves of ${PITCH_UM / 1000} mm), GRBL over pty: ${out.serpentineMeasuredS} s measured; model ${out.serpentineModelS} s motion + ${(moves * spec.settleMs) / 1000} s settle = ${out.serpentineModelWithSettleS} s (×${out.serpentineVsModelWithSettle})`,
  );
  const pro = await runSerpentine('proscan', new RealClock());
  out.proscanSerpentineMeasuredS = round(pro.measuredS);
  out.proscanSerpentineVsModelWithSettle = round(pro.measuredS / (out.serpentineModelWithSettleS as number), 3);
  out.proscanSerpentineBusyPolls = pro.polls;
  console.log(`same serpentine, ProScan over pty: ${out.proscanSerpentineMeasuredS} s (×${out.proscanSerpentineVsModelWithSettle}), ${pro.polls} "$" polls`);
  const twin = await runSerpentine('grbl', new SimClock());
  out.twinSerpentineInstrumentS = round(twin.measuredS);
  out.twinSerpentineWallS = round(twin.wallS);
  out.twinSpeedup = round(twin.measuredS / twin.wallS, 1);
  console.log(`same serpentine on the twin's SimClock (GRBL over pty): ${out.twinSerpentineInstrumentS} s instrument time in ${out.twinSerpentineWallS} s wall (${out.twinSpeedup}× faster than real time)`);

  out.device = 'twin firmware simulators over socat pty pairs, RealClock unless noted';
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
