/**
 * The twin's physical world: one sample mounted on a motorised stage under a turret of objectives, seen by a camera.
 * Adapters (camera, stage, nosepiece, firmware simulators) share one world and one clock, the way the real devices
 * share one microscope.
 */
import type { Clock } from '../kernel/clock.js';
import type { ObjectiveSpec, IlluminationSpec, SensorSpec } from './optics.js';
import { pixelSizeUm, renderFrame, type RenderInfo, type RenderScratch } from './optics.js';
import type { Sample } from './sample.js';
import { StagePhysics, type StagePhysicsSpec, type Vec3 } from './stage-physics.js';

export interface MountSpec {
  /** Stage position (µm) at which the sample's origin lies on the reference objective's optical axis. */
  xUm: number;
  yUm: number;
  /** Rotation of the sample on the stage (degrees). */
  rotationDeg: number;
}

export interface CameraMountSpec {
  /** Rotation of the camera's columns relative to the stage's +x axis (degrees). */
  rotationDeg: number;
  /** Image mirrored left-right relative to the stage. */
  flipX: boolean;
}

export interface WorldSpec {
  objectives: ObjectiveSpec[];
  sensor: SensorSpec;
  illumination: IlluminationSpec;
  camera: CameraMountSpec;
  stage: StagePhysicsSpec;
  mount: MountSpec;
  objectiveChangeMs: number;
}

export class TwinWorld {
  readonly physics: StagePhysics;
  private objectiveName: string;
  private readonly scratch: RenderScratch = {};

  constructor(
    readonly spec: WorldSpec,
    readonly sample: Sample,
    readonly clock: Clock,
  ) {
    if (spec.objectives.length === 0) throw new RangeError('the twin needs at least one objective');
    this.objectiveName = spec.objectives[0]!.name;
    const s = spec.stage;
    const start: Vec3 = [s.x.minUm, s.y.minUm, Math.min(Math.max(0, s.z.minUm), s.z.maxUm)];
    this.physics = new StagePhysics(spec.stage, start);
  }

  objective(name = this.objectiveName): ObjectiveSpec {
    const o = this.spec.objectives.find((ob) => ob.name === name);
    if (!o) throw new RangeError(`unknown objective "${name}"; the turret holds ${this.spec.objectives.map((x) => x.name).join(', ')}`);
    return o;
  }

  currentObjective(): ObjectiveSpec {
    return this.objective();
  }

  /** Puts another objective in the light path (the nosepiece adapter waits the change time). */
  setObjective(name: string): void {
    this.objective(name);
    this.objectiveName = name;
  }

  /** Sample position on the optical axis of `objective` when the stage is at (x, y). */
  stageToSample(x: number, y: number, objective: ObjectiveSpec = this.currentObjective()): [number, number] {
    const m = this.spec.mount;
    const qx = x + objective.centringOffsetUm[0] - m.xUm;
    const qy = y + objective.centringOffsetUm[1] - m.yUm;
    const th = (m.rotationDeg * Math.PI) / 180;
    const c = Math.cos(th);
    const s = Math.sin(th);
    return [c * qx + s * qy, -s * qx + c * qy];
  }

  /** Stage (x, y) that puts a sample position on the optical axis of `objective` (inverse of stageToSample). */
  sampleToStage(sx: number, sy: number, objective: ObjectiveSpec = this.currentObjective()): [number, number] {
    const m = this.spec.mount;
    const th = (m.rotationDeg * Math.PI) / 180;
    const c = Math.cos(th);
    const s = Math.sin(th);
    return [c * sx - s * sy + m.xUm - objective.centringOffsetUm[0], s * sx + c * sy + m.yUm - objective.centringOffsetUm[1]];
  }

  /** Stage z that brings `objective` into focus on the surface at sample position (sx, sy). */
  focusZ(sx: number, sy: number, objective: ObjectiveSpec = this.currentObjective()): number {
    return this.sample.surfaceHeightUm(sx, sy) - objective.parfocalOffsetUm;
  }

  pixelSizeUm(objective: ObjectiveSpec = this.currentObjective()): number {
    return pixelSizeUm(objective, this.spec.sensor);
  }

  /**
   * Renders what the camera records for an exposure from `t0` to `t1` (instrument ms) into `out`, with the physical
   * stage position at mid-exposure and the motion during it (motion blur).
   */
  render(
    out: Uint8Array | Uint16Array,
    opts: {
      t0: number;
      t1: number;
      exposureMs: number;
      gainDb: number;
      noiseSeed: number;
      maskOut?: Uint8Array;
      roi?: { x: number; y: number; width: number; height: number };
    },
  ): RenderInfo & { stage: Vec3; sampleXY: [number, number] } {
    const ob = this.currentObjective();
    const p0 = this.physics.physicalAt(opts.t0);
    const p1 = this.physics.physicalAt(opts.t1);
    const mid: Vec3 = [(p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2, (p0[2] + p1[2]) / 2];
    const [sx, sy] = this.stageToSample(mid[0], mid[1], ob);
    const a = this.stageToSample(p0[0], p0[1], ob);
    const b = this.stageToSample(p1[0], p1[1], ob);
    const cam = this.spec.camera;
    const info = renderFrame(
      {
        sample: this.sample,
        objective: ob,
        sensor: this.spec.sensor,
        illumination: this.spec.illumination,
        centreXUm: sx,
        centreYUm: sy,
        focalPlaneUm: mid[2] + ob.parfocalOffsetUm,
        rotationRad: ((cam.rotationDeg - this.spec.mount.rotationDeg) * Math.PI) / 180,
        flipX: cam.flipX,
        exposureMs: opts.exposureMs,
        gainDb: opts.gainDb,
        noiseSeed: opts.noiseSeed,
        motionUm: [b[0] - a[0], b[1] - a[1]],
        ...(opts.roi ? { roi: opts.roi } : {}),
      },
      out,
      opts.maskOut,
      this.scratch,
    );
    return { ...info, stage: mid, sampleXY: [sx, sy] };
  }
}
