/**
 * What the native leak check (scripts/leakcheck-native.sh) runs under valgrind: every native path with its error
 * paths — capture/release on the push source and Aravis' fake camera (a frame left to the finaliser, close with a
 * frame still held, reopen), each pixel function, refused arguments, a worker-thread error, and sd_notify to a socket
 * nobody listens on. Exits non-zero when the addon's own counters show a buffer not given back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GenicamFrameSource, genicamAvailable } from '../../src/camera/genicam-source.js';
import { PushFrameSource } from '../../src/camera/push-source.js';
import type { FrameSource } from '../../src/camera/frame-source.js';
import * as px from '../../src/native/pixel.js';
import { sdNotify } from '../../src/ops/sd-notify.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const rounds = Number(process.env.LEAKCHECK_ROUNDS ?? 3);
const problems: string[] = [];

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

async function exerciseSource(name: string, source: FrameSource & { stats(): Record<string, number> }): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await source.open();
    for (let i = 0; i < 8; i++) (await source.grab({ timeoutMs: 5000 })).release();
    await source.grab({ timeoutMs: 5000 }); // never released: the finaliser must reclaim it
    const held = await source.grab({ timeoutMs: 5000 }); // still held at close
    await settle();
    await source.close();
    held.release();
  }
  await settle();
  const s = source.stats();
  if (s.outstanding !== 0) problems.push(`${name}: ${s.outstanding} frames outstanding`);
  if (s.leaked < rounds) problems.push(`${name}: finaliser reclaimed ${s.leaked} of ${rounds} dropped frames`);
  console.log(`${name}: delivered ${s.delivered}, leaked ${s.leaked}, outstanding ${s.outstanding}`);
}

async function exercisePixels(): Promise<void> {
  const w = 67;
  const h = 45;
  const n = w * h;
  const u16 = new Uint16Array(n).map((_, i) => (i * 2654435761) % 4096);
  const mask = new Uint8Array(n).map((_, i) => ((i * 7919) % 5 < 2 ? 1 : 0));
  const values = new Float32Array(n).fill(0.5);
  const flat = new Float32Array(n).fill(1.25);
  for (let r = 0; r < rounds; r++) {
    const plan = px.planTiles(w, h, { tile: 32, overlap: 4, binning: 1, channels: 3 });
    await px.preprocessTiles(u16, w, h, { tile: 32, overlap: 4, channels: 3, flat, dark: 10 }, new Float32Array(plan.elements));
    await px.flatFieldGain(
      u16,
      w,
      h,
      u16.map(() => 1),
      new Float32Array(n),
    );
    await px.median(u16, w, h, { radius: 2 }, new Uint16Array(n));
    await px.gaussian(u16, w, h, { sigma: 1.5 }, new Float32Array(n));
    await px.morphology(mask, w, h, { op: 'close', shape: 'disk', radius: 2 }, new Uint8Array(n));
    await px.statistics(u16, w, h, { mask });
    await px.histogram(u16, w, h, { bins: 64, max: 4095 }, new Uint32Array(64));
    await px.otsu(u16, w, h);
    await px.threshold(u16, w, h, { value: 2000 }, new Uint8Array(n));
    await px.bin(u16, w, h, { factor: 3 }, new Uint16Array(22 * 15));
    await px.resize(u16, w, h, new Float32Array(30 * 20), 30, 20);
    await px.focusMetrics(u16, w, h, { roi: { x: 3, y: 3, width: 40, height: 30 } });
    await px.connectedComponents(mask, w, h, { values, labels: new Int32Array(n), maxRegions: 50, byValue: true });
    {
      // Two 32 × 32 tiles of a 3-class output blended over a 48 × 32 grid, then segmented at twice the size.
      const acc = new Float32Array(48 * 32 * px.segmentPlanes(3));
      const probs = new Float32Array(3 * 32 * 32).map((_, i) => ((i * 7919) % 97) / 97);
      const ones = new Float32Array(32).fill(1);
      for (const x of [0, 16]) await px.blendTile(probs, 32, 32, { classes: 3, width: 48, height: 32, x, y: 0, wx: ones, wy: ones }, acc);
      await px.segment(
        acc,
        48,
        32,
        { classes: 3, threshold: 0.5, closeRadius: 1, binning: 2, outWidth: 96, outHeight: 64 },
        new Uint8Array(96 * 64),
        new Int32Array(96 * 64),
      );
    }
    // Error paths: refused before native code, refused by the addon itself, and failing on the worker thread.
    await px.median(u16, w, h, { radius: 99 }, new Uint16Array(n)).catch(() => undefined);
    try {
      (await import('../../src/native/binding.js')).nativeAddon().gaussian(u16, w, h, {}, u16);
    } catch {
      // expected: aliasing output
    }
    await px.flatFieldGain(new Uint16Array(4), 2, 2, 10, new Float32Array(4)).catch(() => undefined);
    try {
      sdNotify('READY=1', '/nonexistent/notify.sock');
    } catch {
      // expected: no listener
    }
  }
  console.log('pixel work: done');
}

await exercisePixels();
let n = 0;
const producer = {
  async expose(target: Uint8Array | Uint16Array) {
    target.fill(++n % 4096);
    return { width: 64, height: 48, exposureStartMs: n, exposureEndMs: n + 1, exposureUs: 1000, gainDb: 0 };
  },
};
await exerciseSource('push source', new PushFrameSource({ width: 64, height: 48, pixelFormat: 'Mono12', poolSize: 4, producer }));
if (genicamAvailable()) {
  await exerciseSource('GenICam fake camera', new GenicamFrameSource({ id: 'Fake_LEAK', pixelFormat: 'Mono16', width: 128, height: 96, poolSize: 4 }));
}
await settle();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('exercise: all buffers returned');
