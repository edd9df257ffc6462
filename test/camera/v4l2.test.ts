import { describe, expect, it } from 'vitest';
import { RealClock } from '../../src/kernel/clock.js';
import { unpackV4l2, V4l2FrameSource, v4l2Available } from '../../src/camera/v4l2-source.js';
import { frameSourceContract } from '../contracts/frame-source.contract.js';

// The capture path needs a device (no /dev/video here, and no kernel modules to make one). Set
// SMARTSCOPE_TEST_V4L2=/dev/videoN to run the FrameSource contract against a real sensor.
const device = process.env.SMARTSCOPE_TEST_V4L2;
if (device) {
  frameSourceContract(`V4L2 device ${device}`, async () => {
    const source = new V4l2FrameSource({ device, poolSize: 4 });
    return { source, clock: new RealClock(), poolSize: 4, cleanup: () => source.close() };
  });
} else {
  describe.skip('FrameSource contract: V4L2 device (set SMARTSCOPE_TEST_V4L2=/dev/videoN)', () => {
    it('runs against a real device', () => undefined);
  });
}

describe('V4L2 format unpacking', () => {
  it('is built on Linux', () => {
    expect(v4l2Available()).toBe(true);
  });

  it('GREY copies rows and drops row padding', () => {
    const src = Uint8Array.from([1, 2, 3, 99, 4, 5, 6, 99]);
    const out = new Uint8Array(6);
    expect(unpackV4l2('GREY', src, 3, 2, 4, out)).toBe(8);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('YUYV keeps the luma samples', () => {
    const src = Uint8Array.from([10, 128, 20, 130, 30, 128, 40, 130]);
    const out = new Uint8Array(4);
    expect(unpackV4l2('YUYV', src, 4, 1, 8, out)).toBe(8);
    expect(Array.from(out)).toEqual([10, 20, 30, 40]);
  });

  it('Y16 and Y12 read little-endian words; Y12 masks to 12 bits; Y10 scales to 12 bits', () => {
    const words = (...v: number[]) => Uint8Array.from(v.flatMap((x) => [x & 0xff, x >> 8]));
    const out = new Uint16Array(3);
    expect(unpackV4l2('Y16 ', words(0, 0xffff, 0x1234), 3, 1, 6, out)).toBe(16);
    expect(Array.from(out)).toEqual([0, 0xffff, 0x1234]);
    expect(unpackV4l2('Y12 ', words(0, 0x0fff, 0xf123), 3, 1, 6, out)).toBe(12);
    expect(Array.from(out)).toEqual([0, 0x0fff, 0x0123]);
    expect(unpackV4l2('Y10 ', words(0, 0x03ff, 0x0201), 3, 1, 6, out)).toBe(12);
    expect(Array.from(out)).toEqual([0, 0x03ff << 2, 0x0201 << 2]);
  });

  it('Y10P: four pixels in five bytes, low bits of pixel i at bits 2i+1..2i of the fifth', () => {
    const px = [0x3ff, 0x000, 0x155, 0x2aa, 0x001, 0x3fe, 0x200, 0x0ff];
    const pack = (p: number[]) => [...p.map((v) => v >> 2), p.reduce((a, v, i) => a | ((v & 3) << (2 * i)), 0)];
    const row = [...pack(px.slice(0, 4)), ...pack(px.slice(4, 8)), 0xee, 0xee]; // 2 padding bytes
    const src = Uint8Array.from([...row, ...row]);
    const out = new Uint16Array(16);
    expect(unpackV4l2('Y10P', src, 8, 2, 12, out)).toBe(12);
    expect(Array.from(out)).toEqual([...px, ...px].map((v) => v << 2));
  });

  it('Y12P: two pixels in three bytes, low nibble of pixel 0 at bits 3..0 and of pixel 1 at bits 7..4', () => {
    const px = [0xfff, 0x000, 0xabc, 0x123, 0x800, 0x7ff];
    const bytes: number[] = [];
    for (let i = 0; i < px.length; i += 2) bytes.push(px[i]! >> 4, px[i + 1]! >> 4, (px[i]! & 0xf) | ((px[i + 1]! & 0xf) << 4));
    const out = new Uint16Array(6);
    expect(unpackV4l2('Y12P', Uint8Array.from(bytes), 6, 1, 9, out)).toBe(12);
    expect(Array.from(out)).toEqual(px);
  });

  it('handles 1×1, odd widths and 16-bit extremes', () => {
    const one = new Uint16Array(1);
    unpackV4l2('Y16 ', Uint8Array.from([0xff, 0xff]), 1, 1, 2, one);
    expect(one[0]).toBe(65535);
    // 5 pixels of Y10P: a full group and a partial one, which still takes a whole group's 5 bytes
    const px = [1, 2, 3, 4, 0x3ff];
    const src = Uint8Array.from([0, 0, 0, 1, 1 | (2 << 2) | (3 << 4), 0xff, 0, 0, 0, 0x03]);
    const out = new Uint16Array(5);
    unpackV4l2('Y10P', src, 5, 1, 10, out);
    expect(Array.from(out)).toEqual(px.map((v) => v << 2));
    expect(() => unpackV4l2('Y10P', src.subarray(0, 7), 5, 1, 7, out)).toThrow(new RangeError('bytes per line 7 is below the 10 that 5 pixels of Y10P need'));
  });

  it('refuses truncated buffers and impossible strides with the format named', () => {
    expect(() => unpackV4l2('Y16 ', new Uint8Array(7), 2, 2, 4, new Uint16Array(4))).toThrow(new RangeError('truncated Y16  frame: 7 bytes, 8 needed'));
    expect(() => unpackV4l2('Y12P', new Uint8Array(100), 4, 2, 5, new Uint16Array(8))).toThrow(
      new RangeError('bytes per line 5 is below the 6 that 4 pixels of Y12P need'),
    );
    expect(() => unpackV4l2('RGB3' as never, new Uint8Array(3), 1, 1, 3, new Uint8Array(1))).toThrow(
      new RangeError('Expected one of "GREY", "Y10 ", "Y12 ", "Y16 ", "Y10P", "Y12P", "YUYV" for fourcc but received the string "RGB3"'),
    );
    expect(() => unpackV4l2('GREY', new Uint8Array(4), 2, 2, 2, new Uint16Array(4) as never)).toThrow(
      new TypeError('Expected a Uint8Array for out but received a Uint16Array of 4 elements'),
    );
  });

  it('names the device and errno when the device cannot be opened', async () => {
    const source = new V4l2FrameSource({ device: '/dev/video-missing' });
    const err = await source.open().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe('V4L2 /dev/video-missing: open failed: No such file or directory (errno 2)');
    expect(source.state).toBe('closed');
  });
});
