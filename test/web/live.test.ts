import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/camera/frame-source.js';
import { downsample, LiveView } from '../../src/web/live.js';

function frame(seq: number, side = 256): Frame {
  const data = new Uint16Array(side * side);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xfff;
  return {
    data,
    width: side,
    height: side,
    pixelFormat: 'Mono12',
    bitDepth: 12,
    sequence: seq,
    exposureStartMs: 0,
    exposureEndMs: 1,
    exposureUs: 1000,
    gainDb: 0,
    release: () => undefined,
  } as Frame;
}

describe('live view', () => {
  it('does nothing with a frame while nobody watches', () => {
    const live = new LiveView({ maxFps: 100, maxSidePx: 64, jpegQuality: 50 });
    live.offer(frame(1));
    expect([live.offered, live.encoded, live.dropped, live.latest]).toEqual([1, 0, 0, null]);
  });

  it('drops and counts a frame that finds the encoder busy, never queues it', async () => {
    let t = 0;
    const live = new LiveView({ maxFps: 1000, maxSidePx: 64, jpegQuality: 50, now: () => t });
    const stop = live.watch();
    live.offer(frame(1));
    t = 10;
    live.offer(frame(2)); // the first is still being encoded
    expect(live.dropped).toBe(1);
    const [f] = (await once(live, 'frame')) as [{ sequence: number; width: number; height: number; jpeg: Buffer }];
    expect([f.sequence, f.width, f.height]).toEqual([1, 64, 64]);
    expect(f.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    stop();
    expect(live.viewers).toBe(0);
  });

  it('sends at most maxFps frames; the frames in between are simply not copied', async () => {
    let t = 0;
    const live = new LiveView({ maxFps: 2, maxSidePx: 32, jpegQuality: 50, now: () => t });
    live.watch();
    live.offer(frame(1));
    await once(live, 'frame');
    t = 400; // sooner than 500 ms after the last
    live.offer(frame(2));
    t = 500;
    live.offer(frame(3));
    const [f] = (await once(live, 'frame')) as [{ sequence: number }];
    expect(f.sequence).toBe(3);
    expect([live.encoded, live.dropped, live.offered]).toEqual([2, 0, 3]);
  });

  it('downsamples to 8 bits with the longest side within the limit', () => {
    const f = frame(1, 100);
    const d = downsample({ ...f, width: 100, height: 50, data: f.data.subarray(0, 5000) }, 30);
    expect([d.width, d.height]).toEqual([25, 12]);
    expect(Math.max(...d.pixels)).toBeLessThanOrEqual(255);
    expect(d.pixels[1]).toBe((4 * 7) >> 4);
  });
});
