/**
 * Config section `stage`: which controller drives the XYZ stage, how to reach it, and how its counts map to µm.
 */
import { bool, int, num, obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';
import { ConfigError, validate, type ConfigIssue } from '../kernel/validate.js';
import { DEFAULT_STAGE_AXES } from './defaults.js';
import type { StageAxis } from './stage.js';

export type StageDriverKind = 'twin' | 'grbl' | 'proscan';
export type AfterReconnect = 'reread' | 'rehome';

export interface AxisConfig {
  /** Motor steps (controller counts) per µm of travel. */
  stepsPerUm: number;
  /** +1: controller + is stage +; −1: reversed. */
  direction: 1 | -1;
  /** Stage position (µm) at the controller's zero. */
  originUm: number;
  minUm: number;
  maxUm: number;
}

export interface StageConfig {
  driver: StageDriverKind;
  port: string;
  baudRate: number;
  replyTimeoutMs: number;
  retries: number;
  pollHz: number;
  settleMs: number;
  targetToleranceUm: number;
  homeOnConnect: boolean;
  afterReconnect: AfterReconnect;
  homingTimeoutS: number;
  moveTimeoutS: number;
  reconnect: { initialDelayMs: number; maxDelayMs: number; factor: number; maxAttempts: number };
  axes: Record<StageAxis, AxisConfig>;
  motion: { speedUmPerS: number; accelUmPerS2: number };
  grbl: { writeSettings: boolean; rxBufferBytes: number; welcomeWaitMs: number };
  proscan: { maxSpeedUmPerS: number; accelUmPerS2: number; zMaxSpeedUmPerS: number; zAccelUmPerS2: number };
  twin: { protocol: 'grbl' | 'proscan' | 'direct'; transport: 'stream' | 'pty' };
}

const w = DEFAULT_STAGE_AXES;

const axis = (name: StageAxis, stepsPerUm: number, minUm: number, maxUm: number): Schema =>
  obj(`Stage ${name} axis.`, {
    stepsPerUm: num(
      `Controller counts per µm on ${name}: GRBL's $10${'xyz'.indexOf(name)} (steps/mm) must equal this × 1000; ProScan reports positions in these counts (RES = 1 / this).`,
      stepsPerUm,
      0.001,
      1000,
      'steps/µm',
    ),
    direction: { type: 'integer', enum: [1, -1], default: 1, description: `+1 when the controller's +${name} is the stage's +${name}, −1 when reversed.` },
    originUm: num(`Stage ${name} position at the controller's zero.`, 0, -1e6, 1e6, 'µm'),
    minUm: num(`Soft travel limit: lowest ${name} a move may target.`, minUm, -1e6, 1e6, 'µm'),
    maxUm: num(`Soft travel limit: highest ${name} a move may target.`, maxUm, -1e6, 1e6, 'µm'),
  });

export const stageSchema: Schema = obj('The motorised XYZ stage and its controller.', {
  driver: oneOf(
    'twin: the digital twin (see twin); grbl: a GRBL 1.1 controller; proscan: a Prior ProScan controller.',
    ['twin', 'grbl', 'proscan'] as const,
    'twin',
  ),
  port: str('Serial device of the controller (a /dev/serial/by-id/ path survives re-plugging).', '/dev/ttyUSB0', { minLength: 1 }),
  baudRate: int('Serial speed (GRBL 1.1: 115200; ProScan: 9600 unless changed with BAUD).', 115200, 1200, 4_000_000, 'baud'),
  replyTimeoutMs: int('How long to wait for a reply on the serial line (real time).', 1000, 20, 60_000, 'ms'),
  retries: int('Times a query (position, status) is re-sent after a garbled or missing reply.', 2, 0, 10),
  pollHz: num('Status polls per second while the stage moves (at most 5, so the serial line stays free).', 5, 0.2, 5, 'Hz'),
  settleMs: num('Wait after the controller reports idle before a move counts as done (vibration dies down).', 50, 0, 10_000, 'ms'),
  targetToleranceUm: num('A move that ends farther than this from its target on any axis fails (stalled axis, lost steps).', 2, 0.001, 1000, 'µm'),
  homeOnConnect: bool('Home the stage when connecting.', false),
  afterReconnect: oneOf(
    'After the controller comes back: re-read the position (reread) or home again (rehome) before moves are accepted.',
    ['reread', 'rehome'] as const,
    'reread',
  ),
  homingTimeoutS: num('Longest a homing cycle may take.', 120, 1, 3600, 's'),
  moveTimeoutS: num(
    'Longest a move or jog may take (a hold pressed on the controller, a stalled report): then it is stopped and fails with TIMEOUT.',
    300,
    1,
    3600,
    's',
  ),
  reconnect: obj('Reconnecting when the serial device disappears.', {
    initialDelayMs: int('First wait before trying again.', 250, 10, 60_000, 'ms'),
    maxDelayMs: int('Longest wait between tries.', 10_000, 10, 600_000, 'ms'),
    factor: num('Each wait is this many times the previous one.', 2, 1, 10),
    maxAttempts: int('Give up after this many tries (0: never give up).', 0, 0, 1_000_000),
  }),
  axes: obj('Counts ↔ µm, direction, origin and soft limits per axis.', {
    x: axis('x', 1, w.x.minUm, w.x.maxUm),
    y: axis('y', 1, w.y.minUm, w.y.maxUm),
    z: axis('z', 10, w.z.minUm, w.z.maxUm),
  }),
  motion: obj('XY speed and acceleration set when connecting (0: keep the controller’s).', {
    speedUmPerS: num('XY speed of moves.', 0, 0, 1e6, 'µm/s'),
    accelUmPerS2: num('XY acceleration of moves (GRBL stores it in EEPROM: $120/$121).', 0, 0, 1e8, 'µm/s²'),
  }),
  grbl: obj('GRBL 1.1 specifics.', {
    writeSettings: bool('Write $100–$102 (steps/mm) and the $10 status mask when they differ from this config, instead of refusing to run.', false),
    rxBufferBytes: int('Serial receive buffer of the controller, when $I does not report it.', 128, 16, 4096, 'bytes'),
    welcomeWaitMs: int('How long to wait for the startup banner after opening the port (boards that reset on open).', 2500, 0, 30_000, 'ms'),
  }),
  proscan: obj('Prior ProScan specifics: what 100 % of SMS/SAS/SMZ/SAZ mean on this stage.', {
    maxSpeedUmPerS: num('XY speed at SMS 100.', w.x.maxSpeedUmPerS, 1, 1e6, 'µm/s'),
    accelUmPerS2: num('XY acceleration at SAS 100.', w.x.accelUmPerS2, 1, 1e8, 'µm/s²'),
    zMaxSpeedUmPerS: num('Focus speed at SMZ 100.', w.z.maxSpeedUmPerS, 1, 1e6, 'µm/s'),
    zAccelUmPerS2: num('Focus acceleration at SAZ 100.', w.z.accelUmPerS2, 1, 1e8, 'µm/s²'),
  }),
  twin: obj('How the twin is driven when driver is twin.', {
    protocol: oneOf('Controller firmware simulated behind the driver (direct: no protocol).', ['grbl', 'proscan', 'direct'] as const, 'grbl'),
    transport: oneOf('In-process byte stream, or a real pty pair through socat (exercises the serialport code path).', ['stream', 'pty'] as const, 'stream'),
  }),
});

/** Checks what the schema cannot express; throws a ConfigError naming each bad field. */
export function checkStageConfig(c: StageConfig, source = 'config'): void {
  const issues: ConfigIssue[] = [];
  for (const a of ['x', 'y', 'z'] as const) {
    const ax = c.axes[a];
    if (!(ax.minUm < ax.maxUm)) {
      issues.push({ path: `stage.axes.${a}.maxUm`, value: ax.maxUm, expected: `a number > stage.axes.${a}.minUm (${ax.minUm}) µm` });
    }
  }
  if (c.driver === 'proscan' && c.axes.x.stepsPerUm !== c.axes.y.stepsPerUm) {
    issues.push({
      path: 'stage.axes.y.stepsPerUm',
      value: c.axes.y.stepsPerUm,
      expected: `the same as stage.axes.x.stepsPerUm (${c.axes.x.stepsPerUm}): ProScan sets one resolution for X and Y (RES,s)`,
    });
  }
  if (c.reconnect.maxDelayMs < c.reconnect.initialDelayMs) {
    issues.push({
      path: 'stage.reconnect.maxDelayMs',
      value: c.reconnect.maxDelayMs,
      expected: `a number ≥ stage.reconnect.initialDelayMs (${c.reconnect.initialDelayMs}) ms`,
    });
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
}

const { default: _sectionDefault, ...stageRootSchema } = stageSchema;

/** Validates a `stage` section on its own (defaults filled in), e.g. for tools and the twin; errors name each field. */
export function parseStageConfig(data: unknown, source = 'stage'): StageConfig {
  const c = validate<StageConfig>(stageRootSchema, structuredClone(data ?? {}), source);
  checkStageConfig(c, source);
  return c;
}
