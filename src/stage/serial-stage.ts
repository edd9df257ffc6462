/**
 * The motion half of every serial stage driver (the connection half is serial-connection.ts): the Stage port's calls,
 * soft limits and unit mapping before anything is sent, one motion at a time, cancellation and stops, the settle time,
 * and checking that a move ended where it was sent.
 *
 * Protocol drivers (grbl/driver.ts, proscan/driver.ts) fill in the hooks at the bottom: run a move until the controller
 * is idle, stop it, explain why it fell short.
 */
import { abortReason, raceAbort } from './abort.js';
import { SerialConnection } from './serial-connection.js';
import {
  checkMotionSettings,
  checkSoftLimits,
  checkSpeedFraction,
  stageError,
  STAGE_AXES,
  type MotionSettings,
  type MoveOptions,
  type Stage,
  type StageAxis,
  type StageError,
  type StagePose,
} from './stage.js';
import type { ControllerVec } from './units.js';

export type { SerialStageDeps, SerialStageStats } from './serial-connection.js';

type Halt = 'stop' | 'estop';

export abstract class SerialStage extends SerialConnection implements Stage {
  private chain: Promise<unknown> = Promise.resolve();

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
    // Every move ends: after moveTimeoutS of instrument time, plus a reply time-out of real time for the last report
    // (rule 4 of the twin's clock), it is stopped and fails with TIMEOUT; homing has its own limit (homingTimeoutS).
    // Checked by a real-time timer against clock.now(), so no instrument-time sleep is left pending for the twin's
    // SimClock to jump to.
    let limit: NodeJS.Timeout | undefined;
    if (kind === 'moving') {
      const s = this.config.moveTimeoutS;
      const deadline = this.clock.now() + s * 1000;
      let pastAt: number | null = null;
      limit = setInterval(() => {
        if (this.clock.now() < deadline) return;
        pastAt ??= performance.now();
        if (performance.now() - pastAt < this.config.replyTimeoutMs) return;
        clearInterval(limit);
        ac.abort(stageError(`the move did not finish within ${s} s (stage.moveTimeoutS); it was stopped`, { code: 'TIMEOUT' }));
      }, 100);
    }
    try {
      return await raceAbort(body(ac.signal), ac.signal);
    } catch (err) {
      if (ac.signal.aborted) {
        const reason = abortReason(ac.signal) as StageError;
        if (reason.canceled && this.stream) {
          // Canceled by the caller: stop the motion (stop() and emergencyStop() already did).
          await (m.halt ?? this.haltControlled()).catch((e: Error) => this.log.warn({ err: e.message }, 'stage stop after cancel failed'));
        } else if (reason.code === 'ALARM' && this.stream) {
          await this.recoverAfterAlarm(reason).catch((e: Error) => this.log.warn({ err: e.message }, 'stage alarm recovery failed'));
        } else if (reason.code === 'TIMEOUT' && this.stream) {
          await this.haltControlled().catch((e: Error) => this.log.warn({ err: e.message }, 'stage stop after a move time-out failed'));
        }
        throw reason;
      }
      throw err;
    } finally {
      clearInterval(limit);
      signal?.removeEventListener('abort', onAbort);
      if (this.motion === m) this.motion = null;
      if (this.state === kind) this.setState(this.positionLost ? 'alarm' : 'idle');
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

  // ---- protocol hooks ------------------------------------------------------------------------------------------

  /** Sends a move and resolves when the controller reports every axis idle. */
  protected abstract runMove(ctrl: ControllerVec, relative: boolean, speedFraction: number, target: Partial<StagePose>, signal: AbortSignal): Promise<void>;
  /** Decelerates whatever is moving and leaves the controller idle with its position known. */
  protected abstract haltControlled(): Promise<void>;
  /** Stops at once. */
  protected abstract haltImmediate(): Promise<void>;
  /** After a move failed on a controller alarm: clear it where the controller allows that without homing. */
  protected async recoverAfterAlarm(_err: StageError): Promise<void> {
    // Nothing by default: the stage stays in 'alarm' until home().
  }
  /** A reason an axis missed its target, if the controller can tell (limit switch hit). */
  protected async explainMiss(_axis: StageAxis, _signal: AbortSignal): Promise<string> {
    return '';
  }
}
