import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/native/binding.js';
import {
  bin,
  blendTile,
  connectedComponents,
  flatFieldGain,
  focusMetrics,
  gaussian,
  histogram,
  median,
  morphology,
  otsu,
  planTiles,
  preprocessTiles,
  resize,
  segment,
  statistics,
  threshold,
} from '../../src/native/pixel.js';
import {
  binRef,
  contourLength,
  flatGainRef,
  focusRef,
  gaussianRef,
  labelRef,
  medianRef,
  morphologyRef,
  otsuRef,
  outerBoundaryRef,
  preprocessRef,
  randomImage,
  randomMask,
  regionPropsRef,
  resizeRef,
  statisticsRef,
} from './pixel-reference.js';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `worst error at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(tol);
}

const SIZES: Array<[number, number]> = [
  [1, 1],
  [1, 7],
  [7, 1],
  [13, 9],
  [31, 17],
];

describe('preprocessTiles', () => {
  const cases = [
    {
      name: 'u16 flat + dark frame, overlap',
      w: 61,
      h: 47,
      type: Uint16Array,
      max: 65535,
      o: { tile: 16, overlap: 5, scale: 1 / 65535, mean: 0.2, std: 0.5 },
      dark: 'frame',
      flat: true,
    },
    {
      name: 'u16 binning 2, 3 channels',
      w: 37,
      h: 29,
      type: Uint16Array,
      max: 4095,
      o: {
        tile: 8,
        overlap: 2,
        binning: 2,
        channels: 3 as const,
        scale: 1 / 4095,
        mean: [0.485, 0.456, 0.406] as number[],
        std: [0.229, 0.224, 0.225] as number[],
      },
      dark: 100,
      flat: true,
    },
    { name: 'u8, image smaller than a tile (padded)', w: 5, h: 3, type: Uint8Array, max: 255, o: { tile: 8, pad: -7 }, dark: undefined, flat: false },
    { name: '1x1 float', w: 1, h: 1, type: Float32Array, max: 1, o: { tile: 1 }, dark: undefined, flat: false },
    { name: 'binning 3 with remainder', w: 20, h: 11, type: Uint16Array, max: 1000, o: { tile: 4, overlap: 1, binning: 3 }, dark: 'frame', flat: false },
  ] as const;
  for (const c of cases) {
    it(`matches the JS reference: ${c.name}`, async () => {
      const frame = randomImage(c.type as unknown as new (n: number) => Uint16Array, c.w, c.h, 1, c.max);
      const dark = c.dark === 'frame' ? randomImage(Uint16Array, c.w, c.h, 2, 50) : c.dark;
      const flat = c.flat ? randomImage(Float32Array, c.w, c.h, 3, 1).map((v) => 0.5 + v) : undefined;
      const opts = { ...c.o, dark, flat };
      const plan = planTiles(c.w, c.h, opts);
      const out = new Float32Array(plan.elements);
      const layout = await preprocessTiles(frame, c.w, c.h, opts, out);
      const ref = preprocessRef(frame, c.w, c.h, opts as never);
      expect(layout.tiles).toBe(plan.tiles);
      expect(Array.from(layout.origins)).toEqual(ref.origins);
      expectClose(out, ref.out, 2e-5);
    });
  }

  it('takes the flat-field gain in Q2.14 as well, with the gain quantised', async () => {
    const w = 45;
    const h = 33;
    const frame = randomImage(Uint16Array, w, h, 21, 4095);
    const flatFrame = randomImage(Uint16Array, w, h, 22, 1000).map((v) => v + 1500);
    const gain = new Float32Array(w * h);
    const q14 = new Uint16Array(w * h);
    await flatFieldGain(flatFrame, w, h, 100, gain);
    await flatFieldGain(flatFrame, w, h, 100, q14);
    // Rounded from the double-precision gain: within one unit of the float32 gain's rounding.
    q14.forEach((q, i) => expect(Math.abs(q - Math.min(65535, Math.round(gain[i]! * 16384)))).toBeLessThanOrEqual(1));
    const opts = { tile: 16, overlap: 3, dark: 100, scale: 1 / 4095 };
    const plan = planTiles(w, h, opts);
    const out = new Float32Array(plan.elements);
    await preprocessTiles(frame, w, h, { ...opts, flatQ14: q14 }, out);
    expectClose(out, preprocessRef(frame, w, h, { ...opts, flat: Float32Array.from(q14, (q) => q / 16384) }).out, 2e-5);
    await expect(preprocessTiles(frame, w, h, { ...opts, flat: gain, flatQ14: q14 }, out)).rejects.toThrow(
      new TypeError(`Expected undefined when options.flat is given for options.flatQ14 but received a Uint16Array of ${w * h} elements`),
    );
  });

  it('handles 16-bit extremes and an all-zero frame', async () => {
    const w = 9;
    const h = 4;
    const frame = new Uint16Array(w * h).map((_, i) => (i % 2 ? 65535 : 0));
    const dark = new Uint16Array(w * h).fill(65535);
    const out = new Float32Array(planTiles(w, h, { tile: 4 }).elements);
    await preprocessTiles(frame, w, h, { tile: 4, dark, scale: 1 / 65535 }, out);
    expectClose(out, preprocessRef(frame, w, h, { tile: 4, dark, scale: 1 / 65535 }).out, 1e-6);
    expect(Math.min(...out)).toBeCloseTo(-1, 6);
    const zero = new Uint16Array(w * h);
    await preprocessTiles(zero, w, h, { tile: 4, mean: 3, std: 2 }, out);
    expect(new Set(out)).toEqual(new Set([-1.5]));
  });

  it('writes into caller-owned memory and leaves the rest of it alone', async () => {
    const frame = randomImage(Uint16Array, 32, 32, 5, 4095);
    const plan = planTiles(32, 32, { tile: 16 });
    const backing = new Float32Array(plan.elements + 8).fill(42);
    const out = backing.subarray(4, 4 + plan.elements);
    await preprocessTiles(frame, 32, 32, { tile: 16 }, out);
    expect(Array.from(backing.subarray(0, 4))).toEqual([42, 42, 42, 42]);
    expect(Array.from(backing.subarray(4 + plan.elements))).toEqual([42, 42, 42, 42]);
  });

  it('runs off the event loop', async () => {
    const frame = randomImage(Uint16Array, 512, 512, 6, 4095);
    const out = new Float32Array(planTiles(512, 512, { tile: 256 }).elements);
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    await preprocessTiles(frame, 512, 512, { tile: 256 }, out);
    expect(ticked).toBe(true);
  });
});

describe('filters', () => {
  for (const [w, h] of SIZES) {
    for (const r of [1, 2]) {
      it(`median r=${r} on ${w}x${h} (u8, u16, f32)`, async () => {
        for (const ctor of [Uint8Array, Uint16Array, Float32Array] as const) {
          const src = randomImage(ctor as new (n: number) => Uint16Array, w, h, w * 31 + h + r, ctor === Uint8Array ? 255 : 65535);
          const out = new (ctor as new (n: number) => Uint16Array)(w * h);
          await median(src, w, h, { radius: r }, out);
          expect(Array.from(out)).toEqual(medianRef(src, w, h, r));
        }
      });
    }
    it(`gaussian on ${w}x${h}: float output and rounded 16-bit output`, async () => {
      const src = randomImage(Uint16Array, w, h, w + 7 * h, 65535);
      const ref = gaussianRef(src, w, h, 1.3);
      const f = new Float32Array(w * h);
      await gaussian(src, w, h, { sigma: 1.3 }, f);
      expectClose(f, ref, 1e-5);
      const u = new Uint16Array(w * h);
      await gaussian(src, w, h, { sigma: 1.3 }, u);
      ref.forEach((v, i) => expect(Math.abs(u[i]! - Math.round(v))).toBeLessThanOrEqual(1));
    });
  }

  it('keeps 16-bit extremes in range', async () => {
    const src = new Uint16Array([0, 65535, 65535, 0, 65535, 65535]);
    const out = new Uint16Array(6);
    await gaussian(src, 3, 2, { sigma: 0.5 }, out);
    for (const v of out) expect(v).toBeLessThanOrEqual(65535);
    await median(src, 3, 2, { radius: 1 }, out);
    expect(Array.from(out)).toEqual(medianRef(src, 3, 2, 1));
  });
});

describe('morphology', () => {
  for (const [w, h] of [...SIZES, [40, 23] as [number, number]]) {
    it(`erode/dilate/open/close, square and disk, on ${w}x${h}`, async () => {
      const mask = randomMask(w, h, w * 13 + h, 0.55);
      const out = new Uint8Array(w * h);
      for (const op of ['erode', 'dilate', 'open', 'close'] as const) {
        for (const shape of ['square', 'disk'] as const) {
          for (const radius of [1, 3]) {
            await morphology(mask, w, h, { op, shape, radius }, out);
            expect(Array.from(out), `${op} ${shape} ${radius}`).toEqual(Array.from(morphologyRef(mask, w, h, op, shape, radius)));
          }
        }
      }
    });
  }
});

describe('statistics, histogram, Otsu, threshold', () => {
  it('statistics match the reference, with and without a mask, and for an empty mask', async () => {
    const src = randomImage(Uint16Array, 23, 19, 9, 65535);
    const mask = randomMask(23, 19, 10);
    for (const m of [undefined, mask, new Uint8Array(23 * 19)]) {
      const got = await statistics(src, 23, 19, { mask: m });
      const ref = statisticsRef(src, m);
      for (const k of Object.keys(ref) as Array<keyof typeof ref>) expect(got[k]).toBeCloseTo(ref[k], 6);
    }
    expect(await statistics(new Uint8Array(1), 1, 1)).toEqual({ count: 1, sum: 0, min: 0, max: 0, mean: 0, std: 0 });
  });

  it('histogram counts in range, below and above', async () => {
    const src = randomImage(Uint16Array, 17, 11, 11, 4095);
    const out = new Uint32Array(16);
    const r = await histogram(src, 17, 11, { bins: 16, min: 100, max: 3999 }, out);
    const ref = new Array<number>(16).fill(0);
    let below = 0;
    let above = 0;
    for (const v of src) {
      if (v < 100) below++;
      else if (v > 3999) above++;
      else ref[Math.min(15, Math.floor(((v - 100) * 16) / 3900))]!++;
    }
    expect(Array.from(out)).toEqual(ref);
    expect(r).toEqual({ below, above });
  });

  it('Otsu matches the reference on random, bimodal, constant and extreme images', async () => {
    const bimodal = new Uint16Array(400).map((_, i) => (i % 3 ? 1000 + (i % 17) : 40000 + (i % 29)));
    const images: Array<[Uint8Array | Uint16Array | Float32Array, number, number]> = [
      [randomImage(Uint8Array, 31, 7, 12, 255), 31, 7],
      [bimodal, 20, 20],
      [new Uint16Array(9).fill(77), 3, 3],
      [new Uint16Array([0, 65535, 0, 65535]), 2, 2],
      [new Uint8Array(1), 1, 1],
      [randomImage(Float32Array, 15, 15, 13, 1), 15, 15],
    ];
    for (const [img, w, h] of images) expect(await otsu(img, w, h)).toBe(otsuRef(img));
    const t = await otsu(bimodal, 20, 20);
    expect(t).toBeGreaterThanOrEqual(1016);
    expect(t).toBeLessThan(40000);
  });

  it('threshold writes 0/1 and counts ones', async () => {
    const src = randomImage(Float32Array, 9, 9, 14, 1);
    const out = new Uint8Array(81);
    const n = await threshold(src, 9, 9, { value: 0.5 }, out);
    expect(Array.from(out)).toEqual(Array.from(src, (v) => (v > 0.5 ? 1 : 0)));
    expect(n).toBe(out.reduce((a, b) => a + b, 0));
    await threshold(src, 9, 9, { value: 0.5, invert: true }, out);
    expect(Array.from(out)).toEqual(Array.from(src, (v) => (v <= 0.5 ? 1 : 0)));
  });
});

describe('resampling', () => {
  it('bins by block mean (integer outputs rounded half up)', async () => {
    for (const [w, h, f] of [
      [9, 7, 2],
      [1, 1, 1],
      [12, 12, 4],
    ] as const) {
      const src = randomImage(Uint16Array, w, h, w * h + f, 65535);
      const ow = Math.floor(w / f);
      const oh = Math.floor(h / f);
      const u = new Uint16Array(ow * oh);
      await bin(src, w, h, { factor: f }, u);
      expect(Array.from(u)).toEqual(binRef(src, w, f, ow, oh, true));
      const fl = new Float32Array(ow * oh);
      await bin(src, w, h, { factor: f }, fl);
      expectClose(fl, binRef(src, w, f, ow, oh, false), 1e-6);
    }
  });

  it('resizes nearest and bilinear like the reference', async () => {
    const src = randomImage(Float32Array, 13, 9, 15, 100);
    for (const [ow, oh] of [
      [5, 4],
      [26, 18],
      [1, 1],
      [13, 9],
    ] as const) {
      for (const method of ['nearest', 'bilinear'] as const) {
        const out = new Float32Array(ow * oh);
        await resize(src, 13, 9, out, ow, oh, { method });
        expectClose(out, resizeRef(src, 13, 9, ow, oh, method), 1e-6);
      }
    }
  });
});

describe('focus metrics', () => {
  it('variance of Laplacian and Brenner match the reference, whole image and ROI', async () => {
    const src = randomImage(Uint16Array, 21, 16, 16, 4095);
    expect(await focusMetrics(src, 21, 16)).toEqual(focusRef(src, 21, 0, 0, 21, 16));
    const got = await focusMetrics(src, 21, 16, { roi: { x: 3, y: 2, width: 10, height: 9 } });
    expect(got).toEqual(focusRef(src, 21, 3, 2, 10, 9));
  });

  it('ranks a sharp image above a blurred copy', async () => {
    const src = randomImage(Uint16Array, 64, 64, 17, 4095);
    const blurred = new Uint16Array(64 * 64);
    await gaussian(src, 64, 64, { sigma: 2 }, blurred);
    const a = await focusMetrics(src, 64, 64);
    const b = await focusMetrics(blurred, 64, 64);
    expect(a.varianceOfLaplacian).toBeGreaterThan(b.varianceOfLaplacian * 10);
    expect(a.brenner).toBeGreaterThan(b.brenner * 2);
  });

  it('is zero on a flat image and defined on 1x1', async () => {
    expect(await focusMetrics(new Uint8Array(25).fill(9), 5, 5)).toEqual({ varianceOfLaplacian: 0, brenner: 0, mean: 9 });
    expect(await focusMetrics(new Uint8Array([4]), 1, 1)).toEqual({ varianceOfLaplacian: 0, brenner: 0, mean: 4 });
  });
});

describe('connectedComponents', () => {
  for (const connectivity of [4, 8] as const) {
    for (const [w, h, seed] of [
      [1, 1, 1],
      [9, 1, 2],
      [1, 9, 3],
      [24, 17, 4],
      [33, 29, 5],
    ] as const) {
      it(`labels and region properties match the reference (${connectivity}-connected, ${w}x${h})`, async () => {
        const mask = randomMask(w, h, seed * 7 + connectivity, 0.5);
        const values = randomImage(Float32Array, w, h, seed, 1);
        const labels = new Int32Array(w * h);
        const res = await connectedComponents(mask, w, h, { connectivity, values, labels });
        const ref = labelRef(mask, w, h, connectivity);
        expect(res.count).toBe(ref.count);
        expect(res.truncated).toBe(false);
        expect(Array.from(labels)).toEqual(Array.from(ref.labels));
        for (const r of res.regions) {
          const p = regionPropsRef(ref.labels, w, r.label, values);
          expect(r.area).toBe(p.area);
          expect(r.bbox).toEqual(p.bbox);
          expect(r.centroid.x).toBeCloseTo(p.centroid.x, 9);
          expect(r.centroid.y).toBeCloseTo(p.centroid.y, 9);
          for (const k of ['majorAxis', 'minorAxis', 'eccentricity'] as const) expect(r[k]).toBeCloseTo(p[k], 6);
          if (p.majorAxis > p.minorAxis + 1e-6) expect(r.orientation).toBeCloseTo(p.orientation, 6);
          expect(r.valueMean).toBeCloseTo(p.valueMean!, 5);
          expect(r.valueMax).toBe(p.valueMax);
          // The contour is a closed chain of 8-neighbours through exactly the region's outer boundary pixels.
          const c = r.contour!;
          const pts = new Set<string>();
          for (let i = 0; i < c.length; i += 2) {
            pts.add(`${c[i]},${c[i + 1]}`);
            const j = (i + 2) % c.length;
            expect(Math.max(Math.abs(c[j]! - c[i]!), Math.abs(c[j + 1]! - c[i + 1]!))).toBeLessThanOrEqual(c.length > 2 ? 1 : 0);
          }
          expect(pts).toEqual(outerBoundaryRef(ref.labels, w, h, r.label));
          expect(c[0]).toBe(r.bbox.x + (Array.from(ref.labels).indexOf(r.label) % w) - r.bbox.x);
          expect(r.perimeter).toBeCloseTo(contourLength(c), 9);
        }
      });
    }
  }

  it('describes known shapes exactly', async () => {
    // A 5x3 rectangle (major axis along x), a single pixel and a diagonal line of 4 pixels.
    const w = 12;
    const h = 8;
    const mask = new Uint8Array(w * h);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 5; x++) mask[y * w + x] = 1;
    mask[6 * w + 1] = 1;
    for (let k = 0; k < 4; k++) mask[(4 + k) * w + 7 + k] = 1;
    const res = await connectedComponents(mask, w, h, { connectivity: 8 });
    expect(res.count).toBe(3);
    const [rect, diag, dot] = res.regions;
    expect(rect!.bbox).toEqual({ x: 1, y: 1, width: 5, height: 3 });
    expect(rect!.centroid).toEqual({ x: 3, y: 2 });
    expect(rect!.orientation).toBe(0);
    expect(rect!.perimeter).toBe(12);
    expect(Array.from(rect!.contour!)).toEqual([1, 1, 2, 1, 3, 1, 4, 1, 5, 1, 5, 2, 5, 3, 4, 3, 3, 3, 2, 3, 1, 3, 1, 2]);
    expect(diag!.orientation).toBeCloseTo(Math.PI / 4, 12);
    expect(diag!.eccentricity).toBeCloseTo(1, 12);
    expect(diag!.perimeter).toBeCloseTo(6 * Math.SQRT2, 12);
    expect(dot!).toMatchObject({ area: 1, perimeter: 0, majorAxis: 0, minorAxis: 0, eccentricity: 0 });
    expect(Array.from(dot!.contour!)).toEqual([1, 6]);
    const four = await connectedComponents(mask, w, h, { connectivity: 4, contours: false });
    expect(four.count).toBe(6);
    expect(four.regions[0]!.contour).toBeUndefined();
  });

  it('bounds the regions it describes but labels them all', async () => {
    const w = 10;
    const mask = new Uint8Array(w * w).map((_, i) => ((i % w) % 2 === 0 && Math.floor(i / w) % 2 === 0 ? 1 : 0));
    const labels = new Int32Array(w * w);
    const res = await connectedComponents(mask, w, w, { maxRegions: 3, labels });
    expect(res).toMatchObject({ count: 25, truncated: true });
    expect(res.regions).toHaveLength(3);
    expect(Math.max(...labels)).toBe(25);
    expect(await connectedComponents(new Uint8Array(6), 3, 2)).toEqual({ count: 0, truncated: false, regions: [] });
  });
});

describe('flat-field gain', () => {
  it('matches the reference and zeroes dead pixels', async () => {
    const flat = randomImage(Uint16Array, 15, 8, 20, 4000).map((v, i) => (i === 7 ? 90 : v + 200));
    const out = new Float32Array(120);
    const mean = await flatFieldGain(flat, 15, 8, 100, out);
    const ref = flatGainRef(flat, 100);
    expect(mean).toBeCloseTo(ref.mean, 9);
    expectClose(out, ref.gain, 1e-6);
    expect(out[7]).toBe(0);
  });
});

describe('argument errors', () => {
  const img = new Uint16Array(12);
  const cases: Array<[string, () => Promise<unknown>, typeof TypeError | typeof RangeError, string]> = [
    [
      'wrong frame type',
      () => preprocessTiles(new Float64Array(12) as never, 4, 3, {}, new Float32Array(1)),
      TypeError,
      'Expected a Uint8Array, Uint16Array or Float32Array for frame but received a Float64Array of 12 elements',
    ],
    [
      'frame too short',
      () => preprocessTiles(new Uint16Array(11), 4, 3, {}, new Float32Array(1)),
      RangeError,
      'Expected a Uint8Array, Uint16Array or Float32Array of 12 elements for frame but received a Uint16Array of 11 elements',
    ],
    [
      'width not an integer',
      () => median(img, 4.5, 3, {}, new Uint16Array(12)),
      RangeError,
      'Expected an integer between 1 and 65535 for width but received the number 4.5',
    ],
    [
      'height missing',
      () => median(img, 4, undefined as never, {}, new Uint16Array(12)),
      TypeError,
      'Expected an integer between 1 and 65535 for height but received undefined',
    ],
    [
      'out too small',
      () => preprocessTiles(img, 4, 3, { tile: 2 }, new Float32Array(7)),
      RangeError,
      'Expected a Float32Array of at least 16 elements for out but received a Float32Array of 7 elements',
    ],
    [
      'overlap >= tile',
      () => preprocessTiles(img, 4, 3, { tile: 2, overlap: 2 }, new Float32Array(8)),
      RangeError,
      'Expected an integer between 0 and 1 for options.overlap but received the number 2',
    ],
    [
      'std zero',
      () => preprocessTiles(img, 4, 3, { std: 0 }, new Float32Array(65536)),
      RangeError,
      'Expected a non-zero standard deviation for options.std but received the number 0',
    ],
    [
      'mean per channel',
      () => preprocessTiles(img, 4, 3, { channels: 3, mean: [1, 2] }, new Float32Array(3 * 65536)),
      RangeError,
      'Expected a number or an array of one number per channel (3) for options.mean but received an array of 2 elements',
    ],
    [
      'median radius',
      () => median(img, 4, 3, { radius: 9 }, new Uint16Array(12)),
      RangeError,
      'Expected an integer between 1 and 7 for options.radius but received the number 9',
    ],
    ['median out type', () => median(img, 4, 3, {}, new Uint8Array(12)), TypeError, 'Expected a Uint16Array for out but received a Uint8Array of 12 elements'],
    [
      'aliasing output',
      () => gaussian(img, 4, 3, {}, img),
      RangeError,
      'Expected a buffer that does not share memory with src for out but received a Uint16Array of 12 elements',
    ],
    [
      'morphology op',
      () => morphology(new Uint8Array(12), 4, 3, { op: 'thin' as never }, new Uint8Array(12)),
      RangeError,
      'Expected one of "erode", "dilate", "open", "close" for options.op but received the string "thin"',
    ],
    [
      'connectivity',
      () => connectedComponents(new Uint8Array(12), 4, 3, { connectivity: 6 as never }),
      RangeError,
      'Expected 4 or 8 for options.connectivity but received the number 6',
    ],
    [
      'blend probs too short',
      () =>
        blendTile(
          new Float32Array(11),
          2,
          3,
          { classes: 2, width: 4, height: 3, x: 0, y: 0, wx: new Float32Array(2), wy: new Float32Array(3) },
          new Float32Array(24),
        ),
      RangeError,
      'Expected a Float32Array of 12 elements for probs but received a Float32Array of 11 elements',
    ],
    [
      'blend tile outside the grid',
      () =>
        blendTile(
          new Float32Array(12),
          2,
          3,
          { classes: 2, width: 4, height: 3, x: 4, y: 0, wx: new Float32Array(2), wy: new Float32Array(3) },
          new Float32Array(24),
        ),
      RangeError,
      'Expected an integer between 0 and 3 for options.x but received the number 4',
    ],
    [
      'segment accumulator planes',
      () => segment(new Float32Array(24), 4, 3, { classes: 3, threshold: 0.5 }, new Uint8Array(12), new Int32Array(12)),
      RangeError,
      'Expected a Float32Array of 48 elements for acc but received a Float32Array of 24 elements',
    ],
    [
      'segment threshold',
      () => segment(new Float32Array(24), 4, 3, { classes: 2, threshold: 1.5 }, new Uint8Array(12), new Int32Array(12)),
      RangeError,
      'Expected a number between 0 and 1 for options.threshold but received the number 1.5',
    ],
    ['options not an object', () => statistics(img, 4, 3, 'x' as never), TypeError, 'Expected an object for options but received the string "x"'],
    [
      'threshold value NaN',
      () => threshold(img, 4, 3, { value: NaN }, new Uint8Array(12)),
      RangeError,
      'Expected a number between -1e+30 and 1e+30 for options.value but received the number NaN',
    ],
  ];
  for (const [name, call, type, message] of cases) {
    it(`${name}: ${type.name}`, async () => {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toBe(message);
    });
  }

  it('the addon itself refuses bad arguments with the same wording instead of crashing', () => {
    const addon = nativeAddon();
    expect(() => addon.median(new Float64Array(12) as never, 4, 3, {}, new Uint16Array(12))).toThrow(
      new TypeError('Expected a Uint8Array, Uint16Array or Float32Array for src but received a Float64Array of 12 elements'),
    );
    expect(() => addon.preprocessTiles(img, 4, 3, { tile: 2 }, new Float32Array(7))).toThrow(
      new RangeError('Expected a Float32Array of at least 16 elements for out but received a Float32Array of 7 elements'),
    );
    expect(() => addon.connectedComponents(null as never, 4, 3, {})).toThrow(new TypeError('Expected a Uint8Array for mask but received null'));
    expect(() => addon.segment(new Float32Array(24), 4, 3, { classes: 3, threshold: 0.5 }, new Uint8Array(12), new Int32Array(12))).toThrow(
      new RangeError('Expected a Float32Array of 48 elements for acc but received a Float32Array of 24 elements'),
    );
    expect(() =>
      addon.blendTile(
        new Float32Array(12),
        2,
        3,
        { classes: 2, width: 4, height: 3, x: 0, y: 0, wx: new Float32Array(2), wy: new Float32Array(3) },
        new Float32Array(23),
      ),
    ).toThrow(new RangeError('Expected a Float32Array of 24 elements for acc but received a Float32Array of 23 elements'));
    expect(() => addon.median(img, 0, 3, {}, img)).toThrow(new RangeError('Expected an integer between 1 and 65535 for width but received the number 0'));
    expect(() => addon.resize(img, 4, 3, img, 4, 3, {})).toThrow(
      new RangeError('Expected a buffer that does not share memory with src for out but received a Uint16Array of 12 elements'),
    );
  });

  it('an error raised on the worker thread carries the stack of the call', async () => {
    async function callerMarkerFrame(): Promise<unknown> {
      return flatFieldGain(new Uint16Array(4), 2, 2, 10, new Float32Array(4));
    }
    const err = (await callerMarkerFrame().catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('the flat frame has no pixel above the dark level');
    expect(err.stack).toContain('callerMarkerFrame');
  });
});
