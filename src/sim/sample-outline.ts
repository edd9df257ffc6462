import type { TwinWorld } from './world.js';

/** The stage rectangle (reference objective) that covers the sample, inset by `insetUm`. */
export function sampleOutline(world: TwinWorld, insetUm = 30): { xUm: number; yUm: number; widthUm: number; heightUm: number } {
  const ref = world.spec.objectives[0]!;
  const s = world.sample;
  const pts = [
    world.sampleToStage(0, 0, ref),
    world.sampleToStage(s.widthUm, 0, ref),
    world.sampleToStage(0, s.heightUm, ref),
    world.sampleToStage(s.widthUm, s.heightUm, ref),
  ];
  // The largest axis-aligned rectangle inside the (slightly rotated) sample.
  const xs = pts.map((p) => p[0]).sort((a, b) => a - b);
  const ys = pts.map((p) => p[1]).sort((a, b) => a - b);
  const x0 = xs[1]! + insetUm;
  const x1 = xs[2]! - insetUm;
  const y0 = ys[1]! + insetUm;
  const y1 = ys[2]! - insetUm;
  return { xUm: x0, yUm: y0, widthUm: x1 - x0, heightUm: y1 - y0 };
}
