/**
 * A Stage adapter straight on the twin's stage physics, without a controller protocol in between. Used where the
 * protocol is not what is under test (twin unit tests, optics benchmarks); the demo and the loop drive the twin through
 * a real protocol driver talking to a firmware simulator (src/sim/firmware/).
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../kernel/clock.js';
import {
  checkMotionSettings,
  checkSoftLimits,
  checkSpeedFraction,
  isStageError,
  stageError,
  type AxisLimits,
  type MotionSettings,
  type MoveOptions,
  type Stage,
  type StageAxis,
  type StagePose,
  type StageState,
} from '../stage/stage.js';
import type { StagePhysics, Vec3 } from './stage-physics.js';

export class TwinStage extends EventEmitter implements Stage {
  readonly id = 'twin-stage';
  readonly limits: Readonly<Record<StageAxis, AxisLimits>>;
  private st: StageState = 'disconnected';
  private speedUmPerS: number;
  /** Serialises calls that move. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Aborts the move in progress (stop / emergency stop). */
  private current: AbortController | null = null;

  constructor(
    private readonly physics: StagePhysics,
    private readonly clock: Clock,
  ) {
    super();
    const s = physics.spec;
    this.limits = {
      x: { minUm: s.x.minUm, maxUm: s.x.maxUm },
      y: { minUm: s.y.minUm, maxUm: s.y.maxUm },
      z: { minUm: s.z.minUm, maxUm: s.z.maxUm },
    };
    this.speedUmPerS = Math.min(s.x.maxSpeedUmPerS, s.y.maxSpeedUmPerS);
  }

  get state(): StageState {
    return this.st;
  }

  private setState(s: StageState): void {
    if (s === this.st) return;
    this.st = s;
    this.emit('state', s);
  }

  async connect(): Promise<void> {
    this.setState('idle');
  }

  async close(): Promise<void> {
    this.current?.abort(stageError('stage closed', { disconnected: true }));
    this.setState('disconnected');
  }

  private pose(v: Vec3): StagePose {
    return { x: v[0], y: v[1], z: v[2] };
  }

  async position(): Promise<StagePose> {
    this.assertConnected();
    const p = this.pose(this.physics.commandedAt(this.clock.now()));
    this.emit('position', p);
    return p;
  }

  moveBy(delta: Partial<StagePose>, opts: MoveOptions = {}): Promise<StagePose> {
    return this.exclusive(async () => {
      const c = this.physics.commandedAt(this.clock.now());
      const t: Partial<StagePose> = {};
      if (delta.x !== undefined) t.x = c[0] + delta.x;
      if (delta.y !== undefined) t.y = c[1] + delta.y;
      if (delta.z !== undefined) t.z = c[2] + delta.z;
      return this.move(t, opts);
    });
  }

  moveTo(target: Partial<StagePose>, opts: MoveOptions = {}): Promise<StagePose> {
    return this.exclusive(() => this.move(target, opts));
  }

  private async move(target: Partial<StagePose>, opts: MoveOptions): Promise<StagePose> {
    this.assertConnected();
    checkSoftLimits(this.limits, target);
    const fraction = checkSpeedFraction(opts.speedFraction);
    if (opts.signal?.aborted) throw stageError('move canceled', { canceled: true });
    const now = this.clock.now();
    const cur = this.physics.commandedAt(now);
    const t: Vec3 = [target.x ?? cur[0], target.y ?? cur[1], target.z ?? cur[2]];
    const vmax = Math.min(this.physics.spec.x.maxSpeedUmPerS, this.physics.spec.y.maxSpeedUmPerS);
    const end = this.physics.moveTo(t, now, Math.min(1, this.speedUmPerS / vmax) * fraction);
    this.setState('moving');
    const ac = new AbortController();
    this.current = ac;
    const onAbort = (): void => ac.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.clock.sleep(end - now + this.physics.spec.settleMs, ac.signal);
    } catch {
      const reason: unknown = ac.signal.reason;
      const halted = this.st !== 'moving';
      if (!halted) {
        const stopAt = this.physics.stop(this.clock.now());
        await this.clock.sleep(stopAt - this.clock.now());
        this.setState('idle');
      }
      throw isStageError(reason) ? reason : stageError('move canceled', { canceled: true });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.current = null;
    }
    this.setState('idle');
    return this.position();
  }

  home(signal?: AbortSignal): Promise<StagePose> {
    return this.exclusive(async () => {
      this.assertConnected();
      this.setState('homing');
      const s = this.physics.spec;
      const now = this.clock.now();
      const end = this.physics.moveTo([s.x.minUm, s.y.minUm, Math.max(s.z.minUm, Math.min(0, s.z.maxUm))], now);
      try {
        await this.clock.sleep(end - now + s.settleMs, signal);
      } catch {
        this.physics.halt(this.clock.now());
        this.setState('idle');
        throw stageError('homing canceled', { canceled: true });
      }
      this.setState('idle');
      return this.position();
    });
  }

  setMotion(settings: Partial<MotionSettings>): Promise<MotionSettings> {
    return this.exclusive(async () => {
      this.assertConnected();
      checkMotionSettings(settings);
      const s = this.physics.spec;
      if (settings.speedUmPerS !== undefined) this.speedUmPerS = Math.min(settings.speedUmPerS, s.x.maxSpeedUmPerS, s.y.maxSpeedUmPerS);
      if (settings.accelUmPerS2 !== undefined) {
        s.x.accelUmPerS2 = settings.accelUmPerS2;
        s.y.accelUmPerS2 = settings.accelUmPerS2;
      }
      return { speedUmPerS: this.speedUmPerS, accelUmPerS2: Math.min(s.x.accelUmPerS2, s.y.accelUmPerS2) };
    });
  }

  async stop(): Promise<void> {
    const now = this.clock.now();
    const end = this.physics.stop(now);
    this.current?.abort(stageError('move stopped', { canceled: true }));
    await this.clock.sleep(end - now);
    if (this.st === 'moving') this.setState('idle');
  }

  async emergencyStop(): Promise<void> {
    this.physics.halt(this.clock.now());
    if (this.st !== 'disconnected') this.setState('idle');
    this.current?.abort(stageError('move halted by emergency stop', { canceled: true }));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private assertConnected(): void {
    if (this.st === 'disconnected') throw stageError('stage is not connected', { disconnected: true });
  }
}
