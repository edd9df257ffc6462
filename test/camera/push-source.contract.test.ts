import { describe, expect, it } from 'vitest';
import { RealClock, SimClock, type Clock } from '../../src/kernel/clock.js';
import { PushFrameSource, type Exposure, type FrameProducer } from '../../src/camera/push-source.js';
import { frameSourceContract } from '../contracts/frame-source.contract.js';

/** A producer that exposes a moving ramp: enough to tell frames apart and to check pixel content. */
class RampProducer implements FrameProducer {
  private n = 0;
  exposureUs = 1000;
  gainDb = 0;
  constructor(
    private readonly clock: Clock,
    private readonly width: number,
    private readonly height: number,
  ) {}

  async expose(target: Uint8Array | Uint16Array, signal: AbortSignal): Promise<Exposure> {
    const t0 = this.clock.now();
    await this.clock.sleep(this.exposureUs / 1000, signal);
    const t1 = this.clock.now();
    const k = ++this.n;
    for (let i = 0; i < this.width * this.height; i++) target[i] = (i + k * 7) % 4096;
    return { width: this.width, height: this.height, exposureStartMs: t0, exposureEndMs: t1, exposureUs: this.exposureUs, gainDb: this.gainDb };
  }

  async setExposure(us: number): Promise<void> {
    this.exposureUs = us;
  }

  async setGain(db: number): Promise<void> {
    this.gainDb = db;
  }
}

frameSourceContract('push source with a producer', async () => {
  const clock = new SimClock(new Date('2026-01-01T00:00:00Z'));
  const source = new PushFrameSource({
    id: 'ramp',
    width: 96,
    height: 64,
    pixelFormat: 'Mono12',
    poolSize: 3,
    producer: new RampProducer(clock, 96, 64),
    clock,
  });
  return {
    source,
    clock,
    poolSize: 3,
    disconnect: async () => source.disconnect('replay ended'),
    reconnect: async () => undefined,
    cleanup: () => source.close(),
  };
});

describe('push source fed from outside', () => {
  it('delivers pushed frames to waiting grabs, drops the oldest when nobody grabs, and times out when nothing comes', async () => {
    const clock = new RealClock();
    const source = new PushFrameSource({ id: 'replay', width: 8, height: 4, pixelFormat: 'Mono8', poolSize: 4, queueDepth: 2, clock });
    await source.open();
    const frame =
      (v: number) =>
      (data: Uint8Array | Uint16Array): Exposure => {
        data.fill(v);
        const t = clock.now();
        return { width: 8, height: 4, exposureStartMs: t, exposureEndMs: t + 1, exposureUs: 1000, gainDb: 0 };
      };
    const waiting = source.grab({ timeoutMs: 2000 });
    expect(await source.push(frame(1))).toBe(true);
    const f = await waiting;
    expect(Array.from(f.data)).toEqual(new Array(32).fill(1));
    f.release();
    // Nobody grabs: the queue keeps the newest two and drops the rest.
    for (let v = 2; v <= 5; v++) expect(await source.push(frame(v))).toBe(true);
    expect(source.counters().dropped).toBe(2);
    // A grab wants an exposure that starts after it: the queued ones are stale.
    const timedOut = await source.grab({ timeoutMs: 50 }).catch((e: unknown) => e as { timeout?: boolean });
    expect(timedOut).toMatchObject({ timeout: true });
    expect(source.counters()).toMatchObject({ delivered: 1, timeouts: 1, dropped: 4 });
    await source.close();
  });

  it('refuses a push when every buffer is held, and a frame larger than the pool', async () => {
    const clock = new RealClock();
    const source = new PushFrameSource({ width: 4, height: 2, pixelFormat: 'Mono16', poolSize: 2, queueDepth: 1, clock });
    await source.open();
    const ok = (data: Uint8Array | Uint16Array): Exposure => {
      data.fill(9);
      return { width: 4, height: 2, exposureStartMs: clock.now(), exposureEndMs: clock.now(), exposureUs: 10, gainDb: 0 };
    };
    const g1 = source.grab();
    await source.push(ok);
    const g2 = source.grab();
    await source.push(ok);
    const held = [await g1, await g2];
    expect(await source.push(ok)).toBe(false);
    expect(source.counters().dropped).toBe(1);
    held.forEach((f) => f.release());
    await expect(source.push((d) => ({ ...ok(d), width: 5 }))).rejects.toThrow(
      new RangeError('Expected an integer between 1 and 4 for exposure.width but received the number 5'),
    );
    await source.close();
  });
});
