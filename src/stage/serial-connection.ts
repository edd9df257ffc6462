/**
 * The connection half of every serial stage driver, whatever the protocol: opening the link, the handshake, re-read or
 * re-home, reconnecting with back-off when the device disappears, the state machine and its events, and turning the
 * controller's reported counts into stage µm. The motion half is serial-stage.ts; protocol drivers fill in the hooks.
 *
 * Time: settle and status-poll waits are instrument time (`clock.sleep`); reply time-outs and reconnect back-off are
 * real time. Every request/reply exchange holds instrument time still (see {@link SerialConnection.io}), so under the
 * twin's SimClock time does not jump while bytes are on the wire.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Clock } from '../kernel/clock.js';
import type { Logger } from '../kernel/logger.js';
import { raceAbort, realDelay } from './abort.js';
import type { StageConfig } from './config.js';
import { stageError, STAGE_AXES, type AxisLimits, type MotionSettings, type StageAxis, type StageError, type StagePose, type StageState } from './stage.js';
import { holdTime } from './hold-time.js';
import { closeStream, type Transport } from './transport.js';
import { AxisMap } from './units.js';

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

export abstract class SerialConnection extends EventEmitter {
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
  /** Incremented whenever a link is opened or given up: work queued under an older one is never sent. */
  protected generation = 0;
  private wanted = false;
  private reconnecting = false;
  private reconnectAbort: AbortController | null = null;
  /** Position last reported before the link dropped while nothing moved (null: unknown, or motion was under way). */
  private poseAtDrop: StagePose | null = null;
  /** The motion in progress: aborted with the reason when the link drops or the controller alarms. */
  protected motion: { ac: AbortController; halt: Promise<void> | null } | null = null;

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

  /** A request/reply exchange: instrument time must not move while its bytes are on the wire ({@link holdTime}). */
  protected io<T>(work: () => Promise<T>): Promise<T> {
    return holdTime(this.clock, work);
  }

  /**
   * After sending a command whose reply comes only when the motion ends (GRBL's G4, $H), hold instrument time until
   * `receipt` settles (a query sent right behind the command: its answer proves the command reached the controller)
   * or `graceMs` of real time pass.
   */
  protected holdUntil(receipt: Promise<unknown>, graceMs = 250): void {
    void holdTime(this.clock, () => Promise.race([receipt.catch(() => undefined), realDelay(graceMs)]));
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
      const before = this.poseAtDrop;
      this.poseAtDrop = null;
      if (reason === 'reconnect' && !rehome && before && !this.positionLost) this.checkUnchanged(before, pose);
      this.setState(this.positionLost ? 'alarm' : 'idle');
      this.log.info(
        { reason, pose, alarm: this.positionLost },
        `stage ${reason === 'connect' ? 'connected' : 'reconnected'} on ${this.deps.transport.description}`,
      );
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

  /**
   * Nothing moved while the link was down, so the controller must report the position it reported last. A different
   * one means its counters restarted (a power cycle, or a board that resets when the port opens): the position is
   * flagged as unknown instead of being accepted.
   */
  private checkUnchanged(before: StagePose, now: StagePose): void {
    const moved = STAGE_AXES.filter((a) => Math.abs(now[a] - before[a]) > this.config.targetToleranceUm);
    if (moved.length === 0) return;
    const what = moved.map((a) => `${a} ${before[a].toFixed(3)} → ${now[a].toFixed(3)} µm`).join(', ');
    this.positionLost = true;
    this.alarmDetail = `position changed while the link was down (${what}): the controller restarted, its position is unknown`;
    this.log.error({ before, now }, 'stage position changed while the link was down');
  }

  private onLinkClosed(gen: number, cause?: Error): void {
    if (gen !== this.generation) return; // closed on purpose, or a link we already gave up
    const still = !this.motion && (this.st === 'idle' || this.st === 'alarm') && !this.positionLost;
    this.poseAtDrop = still ? this.lastReported : null;
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
        this.emit('reconnecting', { attempt, delayMs: delay });
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

  protected assertLinked(): void {
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
  protected abstract runHome(signal: AbortSignal | undefined): Promise<void>;
  protected abstract runMotion(settings: Partial<MotionSettings>, signal: AbortSignal | undefined): Promise<MotionSettings>;
  protected abstract protocolStats(): Record<string, number>;
}
