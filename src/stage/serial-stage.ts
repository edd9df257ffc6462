/**
 * What every serial stage driver shares, whatever the protocol: the connection's life (open, handshake, re-read or
 * re-home, reconnect with back-off), the state machine and events, soft limits and unit mapping before anything is
 * sent, one motion at a time, cancellation, settle, and checking that a move ended where it was sent.
 *
 * Protocol drivers (grbl/driver.ts, proscan/driver.ts) fill in the hooks at the bottom: how to greet the controller,
 * read its position, run a move until the controller is idle, home, stop.
 *
 * Time: settle and status-poll waits are instrument time (`clock.sleep`); reply timeouts and reconnect back-off are
 * real time. Every request/reply exchange runs inside `clock.busy()`, so under the twin's SimClock instrument time does
 * not jump while bytes are on the wire.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Clock } from '../ops/clock.js';
import type { Logger } from '../ops/logger.js';
import { abortReason, raceAbort, realDelay } from './abort.js';
import type { StageConfig } from './config.js';
import {
  checkMotionSettings,
  checkSoftLimits,
  checkSpeedFraction,
  stageError,
  STAGE_AXES,
  type AxisLimits,
  type MotionSettings,
  type MoveOptions,
  type Stage,
  type StageAxis,
  type StageError,
  type StagePose,
  type StageState,
} from './stage.js';
import { closeStream, type Transport } from './transport.js';
import { AxisMap, type ControllerVec } from './units.js';

export interface SerialStageDeps {
  transport: Transport;
  clock: Clock;
  logger: Logger;
}

export interface SerialStageStats {
  moves: number;
  disconnects: number;
  reconnects: number;
  reconnectAttempts: number;
}

type Halt = 'stop' | 'estop';

export abstract class SerialStage extends EventEmitter implements Stage {
  abstract readonly id: string;
  readonly limits: Readonly<Record<StageAxis, AxisLimits>>;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  protected readonly axes: AxisMap;
  protected stream: Duplex | null = null;
  /** Set when the controller says its position can no longer be trusted (alarm, reset while moving): only homing clears it. */
  protected positionLost = false;
  protected alarmDetail = '';
  /** Last pose the controller reported (for motion-time estimates only; never handed out as a position). */
  protected lastReported: StagePose | null = null;
  protected readonly baseStats: SerialStageStats = { moves: 0, disconnects: 0, reconnects: 0, reconnectAttempts: 0 };
  private st: StageState = 'disconnected';
  private generation = 0;
  private wanted = false;
  private reconnecting = false;
  private reconnectAbort: AbortController | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private motion: { ac: AbortController; halt: Promise<void> | null } | null = null;
  private dataWaiters: Array<() => void> = [];

  constructor(
    protected readonly config: StageConfig,
    protected readonly deps: SerialStageDeps,
  ) {
    super();
    this.clock = deps.clock;
    this.log = deps.logger;
    const a = config.axes;
    this.limits = {
      x: { minUm: a.x.minUm, maxUm: a.x.maxUm },
      y: { minUm: a.y.minUm, maxUm: a.y.maxUm },
      z: { minUm: a.z.minUm, maxUm: a.z.maxUm },
    };
    this.axes = new AxisMap(config.axes, (axis) => this.unitsPerUm(axis));
  }

  get state(): StageState {
    return this.st;
  }

  protected setState(s: StageState): void {
    if (s === this.st) return;
    this.st = s;
    this.emit('state', s);
  }

  protected get pollMs(): number {
    return 1000 / this.config.pollHz;
  }

  /** A request/reply exchange: instrument time must not jump while its bytes are on the wire. */
  protected io<T>(work: () => Promise<T>): Promise<T> {
    return this.clock.busy(work);
  }

  /**
   * After sending a command whose reply comes only when the motion ends (GRBL's G4, $H), hold instrument time until
   * the controller sends anything or `graceMs` of real time pass: under SimClock the command must reach the controller
   * before time may jump ahead (otherwise the controller would start the motion late, or a homing time-out would fire
   * before the command even arrived).
   */
  protected holdUntilAnswer(graceMs = 25): void {
    void this.clock.busy(
      () =>
        new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(done, graceMs);
          this.dataWaiters.push(done);
        }),
    );
  }

  // ---- connection ---------------------------------------------------------------------------------------------

  async connect(signal?: AbortSignal): Promise<void> {
    if (this.st !== 'disconnected') return;
    this.wanted = true;
    try {
      await this.openLink(signal, 'connect');
    } catch (err) {
      this.wanted = false;
      this.reconnectAbort?.abort();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.wanted = false;
    this.reconnectAbort?.abort();
    const err = stageError('stage closed', { disconnected: true });
    this.motion?.ac.abort(err);
    const s = this.stream;
    this.generation++;
    this.stream = null;
    if (s) {
      this.detach(err);
      await closeStream(s);
    }
    this.setState('disconnected');
  }

  private async openLink(signal: AbortSignal | undefined, reason: 'connect' | 'reconnect'): Promise<StagePose> {
    this.setState('connecting');
    let stream: Duplex;
    try {
      stream = await this.deps.transport.open(signal);
    } catch (err) {
      this.setState('disconnected');
      throw err;
    }
    const gen = ++this.generation;
    this.stream = stream;
    stream.on('close', (err?: Error) => this.onLinkClosed(gen, err));
    stream.on('error', (err: Error) => this.log.warn({ err: err.message }, 'stage link error'));
    stream.on('data', () => {
      const ws = this.dataWaiters;
      this.dataWaiters = [];
      for (const w of ws) w();
    });
    this.attach(stream);
    try {
      this.positionLost = false;
      this.alarmDetail = '';
      await this.handshake(signal);
      const rehome = reason === 'connect' ? this.config.homeOnConnect : this.config.afterReconnect === 'rehome';
      if (rehome) {
        this.setState('homing');
        await this.runHome(signal);
        this.positionLost = false;
      }
      const m = this.config.motion;
      if (m.speedUmPerS > 0 || m.accelUmPerS2 > 0) {
        const s: Partial<MotionSettings> = {};
        if (m.speedUmPerS > 0) s.speedUmPerS = m.speedUmPerS;
        if (m.accelUmPerS2 > 0) s.accelUmPerS2 = m.accelUmPerS2;
        await this.runMotion(s, signal);
      }
      const pose = await this.readPose(signal);
      this.setState(this.positionLost ? 'alarm' : 'idle');
      this.log.info({ reason, pose, alarm: this.positionLost }, `stage ${reason === 'connect' ? 'connected' : 'reconnected'} on ${this.deps.transport.description}`);
      return pose;
    } catch (err) {
      if (gen === this.generation) {
        this.generation++;
        this.stream = null;
        this.detach(err as Error);
        await closeStream(stream);
        this.setState('disconnected');
      }
      throw err;
    }
  }

  private onLinkClosed(gen: number, cause?: Error): void {
    if (gen !== this.generation) return; // closed on purpose, or a link we already gave up
    this.generation++;
    this.stream = null;
    this.baseStats.disconnects++;
    const err = stageError(`stage link lost (${cause?.message ?? 'port closed'})`, { disconnected: true });
    this.detach(err);
    this.motion?.ac.abort(err);
    this.setState('disconnected');
    this.log.warn({ err: cause?.message }, `stage controller on ${this.deps.transport.description} disconnected`);
    this.emit('disconnected', err);
    if (this.wanted) this.reconnectLoop();
  }

  private reconnectLoop(): void {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const ac = new AbortController();
    this.reconnectAbort = ac;
    const r = this.config.reconnect;
    void (async () => {
      let delay = r.initialDelayMs;
      for (let attempt = 1; this.wanted && !ac.signal.aborted; attempt++) {
        try {
          await realDelay(delay, ac.signal);
        } catch {
          break;
        }
        this.baseStats.reconnectAttempts++;
        try {
          const pose = await this.openLink(ac.signal, 'reconnect');
          this.baseStats.reconnects++;
          this.emit('reconnected', pose);
          break;
        } catch (err) {
          this.log.warn({ attempt, err: (err as Error).message, nextDelayMs: delay }, 'stage reconnect failed');
          if (r.maxAttempts > 0 && attempt >= r.maxAttempts) {
            this.wanted = false;
            this.emit('reconnect-failed', err);
            break;
          }
          delay = Math.min(r.maxDelayMs, delay * r.factor);
        }
      }
    })().finally(() => {
      this.reconnecting = false;
    });
  }

  // ---- the port ------------------------------------------------------------------------------------------------

  async position(signal?: AbortSignal): Promise<StagePose> {
    this.assertLinked();
    return this.readPose(signal);
  }

  moveTo(target: Partial<StagePose>, opts: MoveOptions = {}): Promise<StagePose> {
    try {
      checkSoftLimits(this.limits, target);
      checkSpeedFraction(opts.speedFraction);
      this.assertReady();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(opts.signal, 'move', async (signal) => {
      const ctrl = this.axes.toController(target);
      return this.motionOp('moving', signal, async (s) => {
        await this.runMove(ctrl, false, opts.speedFraction ?? 1, target, s);
        return this.settleAndCheck(target, s);
      });
    });
  }

  moveBy(delta: Partial<StagePose>, opts: MoveOptions = {}): Promise<StagePose> {
    try {
      for (const a of STAGE_AXES) {
        if (delta[a] !== undefined && !Number.isFinite(delta[a])) throw new RangeError(`stage axis ${a}: distance ${delta[a]} is not a finite number of µm`);
      }
      checkSpeedFraction(opts.speedFraction);
      this.assertReady();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(opts.signal, 'move', async (signal) => {
      const from = await this.readPose(signal);
      const target: Partial<StagePose> = {};
      for (const a of STAGE_AXES) if (delta[a] !== undefined) target[a] = from[a] + delta[a]!;
      checkSoftLimits(this.limits, target);
      const ctrl = this.axes.deltaToController(delta);
      return this.motionOp('moving', signal, async (s) => {
        await this.runMove(ctrl, true, opts.speedFraction ?? 1, target, s);
        return this.settleAndCheck(target, s);
      });
    });
  }

  home(signal?: AbortSignal): Promise<StagePose> {
    try {
      this.assertLinked();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(signal, 'homing', async (sig) =>
      this.motionOp('homing', sig, async (s) => {
        await this.runHome(s);
        this.positionLost = false;
        this.alarmDetail = '';
        await this.clock.sleep(this.config.settleMs, s);
        return this.readPose(s);
      }),
    );
  }

  setMotion(settings: Partial<MotionSettings>, signal?: AbortSignal): Promise<MotionSettings> {
    try {
      checkMotionSettings(settings);
      this.assertReady();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(signal, 'setMotion', (s) => this.runMotion(settings, s));
  }

  async stop(): Promise<void> {
    await this.halt('stop');
  }

  async emergencyStop(): Promise<void> {
    await this.halt('estop');
  }

  private async halt(kind: Halt): Promise<void> {
    if (!this.stream) return;
    const halt = kind === 'stop' ? this.haltControlled() : this.haltImmediate();
    halt.catch(() => undefined);
    const m = this.motion;
    if (m && !m.ac.signal.aborted) {
      m.halt = halt;
      m.ac.abort(stageError(kind === 'stop' ? 'move stopped' : 'move halted by emergency stop', { canceled: true }));
    }
    await halt;
  }

  // ---- shared machinery ----------------------------------------------------------------------------------------

  /** Runs motion calls one at a time; a call queued before a reconnect is refused, never sent afterwards. */
  protected exclusive<T>(signal: AbortSignal | undefined, what: string, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const gen = this.generation;
    const run = this.chain.then(async () => {
      if (signal?.aborted) throw abortReason(signal, what);
      if (gen !== this.generation) {
        throw stageError(`the stage link dropped while this ${what} waited; it was not sent`, { disconnected: true });
      }
      return fn(signal);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  protected async motionOp<T>(kind: 'moving' | 'homing', signal: AbortSignal | undefined, body: (s: AbortSignal) => Promise<T>): Promise<T> {
    if (kind === 'moving') this.assertReady();
    const ac = new AbortController();
    const m = { ac, halt: null as Promise<void> | null };
    this.motion = m;
    const onAbort = (): void => ac.abort(abortReason(signal!, kind === 'moving' ? 'move' : 'homing'));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    this.setState(kind);
    this.baseStats.moves++;
    try {
      return await raceAbort(body(ac.signal), ac.signal);
    } catch (err) {
      if (ac.signal.aborted) {
        const reason = abortReason(ac.signal) as StageError;
        if (reason.canceled && this.stream) {
          // Canceled by the caller: stop the motion (stop() and emergencyStop() already did).
          await (m.halt ?? this.haltControlled()).catch((e: Error) => this.log.warn({ err: e.message }, 'stage stop after cancel failed'));
        }
        throw reason;
      }
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.motion === m) this.motion = null;
      if (this.st === kind) this.setState(this.positionLost ? 'alarm' : 'idle');
    }
  }

  /** Waits the settle time, reads the position back and checks every commanded axis got there. */
  private async settleAndCheck(target: Partial<StagePose>, signal: AbortSignal): Promise<StagePose> {
    await this.clock.sleep(this.config.settleMs, signal);
    const pose = await this.readPose(signal);
    const tol = this.config.targetToleranceUm;
    for (const a of STAGE_AXES) {
      const t = target[a];
      if (t === undefined || Math.abs(pose[a] - t) <= tol) continue;
      const why = await this.explainMiss(a, signal).catch(() => '');
      throw stageError(
        `stage axis ${a} stopped at ${pose[a].toFixed(3)} µm, ${Math.abs(t - pose[a]).toFixed(3)} µm from the target ${t.toFixed(3)} µm (${why || 'stalled axis or lost steps'})`,
        { code: 'TARGET_MISSED', axis: a },
      );
    }
    return pose;
  }

  protected async readPose(signal?: AbortSignal): Promise<StagePose> {
    const raw = await raceAbort(this.readRaw(signal), signal, 'position read');
    return this.reportRaw(raw);
  }

  /** Converts a position the controller reported and announces it. */
  protected reportRaw(raw: readonly number[]): StagePose {
    const pose = this.axes.toStage(raw);
    this.lastReported = pose;
    this.emit('position', pose);
    return pose;
  }

  /** Marks the controller in alarm; a motion in progress fails with `err`. */
  protected enterAlarm(err: StageError, positionLost: boolean): void {
    if (positionLost) this.positionLost = true;
    this.alarmDetail = err.firmwareCode ?? err.message;
    this.motion?.ac.abort(err);
    if (this.st !== 'disconnected' && this.st !== 'connecting') this.setState('alarm');
    this.log.error({ err: err.message }, 'stage controller alarm');
  }

  private assertLinked(): void {
    if (this.st === 'disconnected') throw stageError('stage is not connected', { disconnected: true });
    if (this.st === 'connecting') {
      throw stageError('stage is connecting; calls are refused until its position has been read from the controller', { code: 'NOT_READY' });
    }
  }

  protected assertReady(): void {
    this.assertLinked();
    if (this.st === 'alarm' || this.positionLost) {
      throw stageError(`stage controller is in alarm (${this.alarmDetail || 'position lost'}); home() is required before moves`, { code: 'ALARM' });
    }
  }

  stats(): Record<string, number> {
    return { ...this.baseStats, ...this.protocolStats() };
  }

  // ---- protocol hooks ------------------------------------------------------------------------------------------

  /** Controller units per µm on an axis. */
  protected abstract unitsPerUm(axis: StageAxis): number;
  /** Takes over a freshly opened link. */
  protected abstract attach(stream: Duplex): void;
  /** The link is gone (or being given up): fail everything waiting on it with `err`. */
  protected abstract detach(err: Error): void;
  /** Greets the controller, checks its settings, waits for a motion left running to end; sets positionLost if needed. */
  protected abstract handshake(signal: AbortSignal | undefined): Promise<void>;
  /** Position in controller units [x, y, z]. */
  protected abstract readRaw(signal: AbortSignal | undefined): Promise<number[]>;
  /** Sends a move and resolves when the controller reports every axis idle. */
  protected abstract runMove(ctrl: ControllerVec, relative: boolean, speedFraction: number, target: Partial<StagePose>, signal: AbortSignal): Promise<void>;
  protected abstract runHome(signal: AbortSignal | undefined): Promise<void>;
  protected abstract runMotion(settings: Partial<MotionSettings>, signal: AbortSignal | undefined): Promise<MotionSettings>;
  /** Decelerates whatever is moving and leaves the controller idle with its position known. */
  protected abstract haltControlled(): Promise<void>;
  /** Stops at once. */
  protected abstract haltImmediate(): Promise<void>;
  /** A reason an axis missed its target, if the controller can tell (limit switch hit). */
  protected async explainMiss(_axis: StageAxis, _signal: AbortSignal): Promise<string> {
    return '';
  }
  protected abstract protocolStats(): Record<string, number>;
}
