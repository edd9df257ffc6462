/**
 * A Stage adapter straight on the twin's stage physics, without a controller protocol in between. Used where the
 * protocol is not what is under test (twin unit tests, optics benchmarks); the demo and the loop drive the twin through
 * a real protocol driver talking to a firmware simulator.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../ops/clock.js';
import {
  checkSoftLimits,
  stageError,
  type AxisLimits,
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
    this.setState('disconnected');
  }

  private pose(v: Vec3): StagePose {
    return { x: v[0], y: v[1], z: v[2] };
  }

  async position(): Promise<StagePose> {
    this.assertConnected();
    return this.pose(this.physics.commandedAt(this.clock.now()));
  }

  async moveBy(delta: Partial<StagePose>, opts?: MoveOptions): Promise<StagePose> {
    const p = await this.position();
    return this.moveTo({ x: p.x + (delta.x ?? 0), y: p.y + (delta.y ?? 0), z: p.z + (delta.z ?? 0) }, opts);
  }

  async moveTo(target: Partial<StagePose>, opts: MoveOptions = {}): Promise<StagePose> {
    this.assertConnected();
    const now = this.clock.now();
    const cur = this.physics.commandedAt(now);
    const t: StagePose = { x: target.x ?? cur[0], y: target.y ?? cur[1], z: target.z ?? cur[2] };
    checkSoftLimits(this.limits, t);
    if (opts.signal?.aborted) throw stageError('move canceled', { canceled: true });
    const end = this.physics.moveTo([t.x, t.y, t.z], now, opts.speedFraction ?? 1);
    this.setState('moving');
    try {
      await this.clock.sleep(end - now + this.physics.spec.settleMs, opts.signal);
    } catch {
      const stopAt = this.physics.stop(this.clock.now());
      await this.clock.sleep(stopAt - this.clock.now());
      this.setState('idle');
      throw stageError('move canceled', { canceled: true });
    }
    this.setState('idle');
    return this.position();
  }

  async home(signal?: AbortSignal): Promise<StagePose> {
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
  }

  async stop(): Promise<void> {
    const now = this.clock.now();
    const end = this.physics.stop(now);
    await this.clock.sleep(end - now);
  }

  async emergencyStop(): Promise<void> {
    this.physics.halt(this.clock.now());
    this.setState('idle');
  }

  private assertConnected(): void {
    if (this.st === 'disconnected') throw stageError('stage is not connected', { disconnected: true });
  }
}
