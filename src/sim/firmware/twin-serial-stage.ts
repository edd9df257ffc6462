/**
 * The twin's stage as the composition root, tests and benchmarks use it: a real protocol driver (GRBL or ProScan)
 * talking over a byte link (in-process stream, or a pty pair through socat and serialport) to a firmware simulator
 * that moves the twin's stage physics — the same physics the twin camera renders from, so a move commanded over the
 * wire moves what the camera sees. `protocol: 'direct'` gives the protocol-less TwinStage instead.
 */
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import type { Clock } from '../../kernel/clock.js';
import { silentLogger, type Logger } from '../../kernel/logger.js';
import { parseStageConfig, type StageConfig } from '../../stage/config.js';
import { GrblStage } from '../../stage/grbl/driver.js';
import { ProScanStage } from '../../stage/proscan/driver.js';
import { stageError, type Stage } from '../../stage/stage.js';
import { closeStream, serialTransport, type Transport } from '../../stage/transport.js';
import type { StagePhysics } from '../stage-physics.js';
import { TwinStage } from '../twin-stage.js';
import { duplexPair } from './duplex-pair.js';
import { GrblFirmware, type GrblFirmwareOptions } from './grbl.js';
import { ProScanFirmware, type ProScanFirmwareOptions } from './proscan.js';
import { PtyPair } from './pty-pair.js';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TwinStageOptions {
  protocol: 'grbl' | 'proscan' | 'direct';
  transport?: 'stream' | 'pty';
  logger?: Logger;
  /** Overrides of the driver's `stage` config (merged over what the twin's physics implies). */
  config?: DeepPartial<StageConfig>;
  grbl?: GrblFirmwareOptions;
  proscan?: ProScanFirmwareOptions;
}

export interface TwinStageRig<S extends Stage = Stage> {
  stage: S;
  simulator: GrblFirmware | ProScanFirmware | null;
  /** The driver's config (null for 'direct'). */
  config: StageConfig | null;
  /** The driver-side device path over a pty, or a description. */
  port: string;
  /** Pulls the cable: the link disappears (the driver sees a disconnection) until `replug()`. */
  unplug(): Promise<void>;
  replug(): Promise<void>;
  close(): Promise<void>;
}

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? merge(b, v as DeepPartial<typeof b>) : v;
  }
  return out as T;
}

/** The driver config that matches the twin's stage physics (limits, speeds, settle) and simulator defaults. */
export function twinStageConfig(physics: StagePhysics, protocol: 'grbl' | 'proscan', over?: DeepPartial<StageConfig>): StageConfig {
  const s = physics.spec;
  const base = parseStageConfig({}, 'twin stage');
  base.driver = protocol;
  base.baudRate = protocol === 'grbl' ? 115200 : 9600;
  base.settleMs = s.settleMs;
  for (const a of ['x', 'y', 'z'] as const) {
    base.axes[a].minUm = s[a].minUm;
    base.axes[a].maxUm = s[a].maxUm;
    // GRBL's machine space is −$13x…0: stage = physics, so machine zero sits at the + end of travel.
    if (protocol === 'grbl') base.axes[a].originUm = s[a].maxUm;
  }
  base.proscan = { maxSpeedUmPerS: s.x.maxSpeedUmPerS, accelUmPerS2: s.x.accelUmPerS2, zMaxSpeedUmPerS: s.z.maxSpeedUmPerS, zAccelUmPerS2: s.z.accelUmPerS2 };
  return parseStageConfig(merge(base, over), 'twin stage');
}

export async function createTwinStage(
  world: { physics: StagePhysics },
  clock: Clock,
  opts: TwinStageOptions,
): Promise<TwinStageRig<Stage & { stats?(): Record<string, number> }>> {
  if (opts.protocol === 'direct') {
    const stage = new TwinStage(world.physics, clock);
    return { stage, simulator: null, config: null, port: 'direct', unplug: async () => undefined, replug: async () => undefined, close: () => stage.close() };
  }
  const logger = (opts.logger ?? silentLogger()).child({ module: 'stage', driver: opts.protocol, twin: true });
  const config = twinStageConfig(world.physics, opts.protocol, opts.config);
  const sim =
    opts.protocol === 'grbl'
      ? new GrblFirmware(world.physics, clock, {
          stepsPerMm: [config.axes.x.stepsPerUm * 1000, config.axes.y.stepsPerUm * 1000, config.axes.z.stepsPerUm * 1000],
          ...opts.grbl,
        })
      : new ProScanFirmware(world.physics, clock, opts.proscan);

  let transport: Transport;
  let unplug: () => Promise<void>;
  let replug: () => Promise<void>;
  let dispose: () => Promise<void>;
  let port: string;
  if ((opts.transport ?? 'stream') === 'stream') {
    let plugged = true;
    let fwEnd: Duplex | null = null;
    port = `twin ${opts.protocol} (in-process)`;
    transport = {
      description: port,
      async open() {
        if (!plugged) throw stageError(`cannot open stage port ${port}: no such device (cable unplugged)`, { code: 'OPEN_FAILED' });
        const [host, fw] = duplexPair();
        fwEnd = fw;
        sim.attach(fw);
        return host;
      },
    };
    unplug = async () => {
      plugged = false;
      sim.detach();
      if (fwEnd) await closeStream(fwEnd);
      fwEnd = null;
    };
    replug = async () => {
      plugged = true;
    };
    dispose = async () => {
      if (fwEnd) await closeStream(fwEnd);
    };
  } else {
    const pair = await PtyPair.create();
    port = pair.hostPath;
    let fwPort: SerialPort | null = null;
    const openFirmwareEnd = async (): Promise<void> => {
      const p = new SerialPort({ path: pair.firmwarePath, baudRate: config.baudRate, autoOpen: false });
      await new Promise<void>((resolve, reject) => p.open((err) => (err ? reject(err) : resolve())));
      fwPort = p;
      sim.attach(p);
    };
    await openFirmwareEnd();
    transport = serialTransport(pair.hostPath, config.baudRate);
    unplug = async () => {
      sim.detach();
      await pair.stop();
      fwPort = null;
    };
    replug = async () => {
      await pair.start();
      await openFirmwareEnd();
    };
    dispose = async () => {
      sim.detach();
      if (fwPort) await closeStream(fwPort);
      await pair.dispose();
    };
  }
  const deps = { transport, clock, logger };
  const stage = opts.protocol === 'grbl' ? new GrblStage(config, deps) : new ProScanStage(config, deps);
  return {
    stage,
    simulator: sim,
    config,
    port,
    unplug,
    replug,
    async close() {
      await stage.close();
      sim.shutdown();
      await dispose();
    },
  };
}
