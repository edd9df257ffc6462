/**
 * The FrameSource contract (src/camera/frame-source.ts), run against every adapter: the twin, the push source, Aravis'
 * in-process fake camera, a fake GigE Vision camera over loopback, and a V4L2 device when one is named.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/kernel/clock.js';
import type { CameraError, Frame, FrameSource } from '../../src/camera/frame-source.js';
import { collectUntil } from '../support/gc.js';

export interface FrameSourceHarness {
  source: FrameSource;
  clock: Clock;
  /** Frames a consumer can hold at once before the source runs out of buffers. */
  poolSize: number;
  /** Takes the device away (unplug, camera process killed, replay ended); absent when the adapter cannot. */
  disconnect?(): Promise<void>;
  /** Brings the device back after disconnect(). */
  reconnect?(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Real-time limit for grabs that must fail for lack of buffers (ms). */
  exhaustedTimeoutMs?: number;
  /** Real-time limit for the disconnect to be noticed (ms). */
  disconnectTimeoutMs?: number;
}

async function rejection(p: Promise<unknown>): Promise<CameraError> {
  return p.then(
    () => {
      throw new Error('expected the grab to reject');
    },
    (e: unknown) => e as CameraError,
  );
}

export function frameSourceContract(name: string, make: () => Promise<FrameSourceHarness>, opts: ContractOptions = {}): void {
  describe(`FrameSource contract: ${name}`, () => {
    let h: FrameSourceHarness;
    let held: Frame[] = [];

    beforeEach(async () => {
      h = await make();
      held = [];
    });

    afterEach(async () => {
      for (const f of held) f.release();
      await h?.cleanup();
    });

    const grab = async (o: Parameters<FrameSource['grab']>[0] = {}): Promise<Frame> => {
      const f = await h.source.grab(o);
      held.push(f);
      return f;
    };

    it('opens, describes itself and starts with zero counters', async () => {
      expect(h.source.state).toBe('closed');
      await h.source.open();
      expect(h.source.state).toBe('open');
      const info = h.source.info();
      expect(info.width).toBeGreaterThan(0);
      expect(info.height).toBeGreaterThan(0);
      expect(['Mono8', 'Mono12', 'Mono16']).toContain(info.pixelFormat);
      expect(h.source.counters()).toEqual({ delivered: 0, dropped: 0, timeouts: 0, incomplete: 0, errors: 0, leaked: 0 });
    });

    it('grabs a frame filling width × height pixels of the announced format', async () => {
      await h.source.open();
      const info = h.source.info();
      const f = await grab();
      expect([f.width, f.height, f.pixelFormat]).toEqual([info.width, info.height, info.pixelFormat]);
      expect(f.data.length).toBe(f.width * f.height);
      expect(f.data).toBeInstanceOf(f.bitDepth === 8 ? Uint8Array : Uint16Array);
      expect(f.bitDepth).toBe(f.pixelFormat === 'Mono8' ? 8 : f.pixelFormat === 'Mono12' ? 12 : 16);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of f.data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(hi).toBeGreaterThan(lo); // an image, not a blank buffer
      expect(hi).toBeLessThan(2 ** f.bitDepth);
      expect(h.source.counters().delivered).toBe(1);
    });

    it('returns exposures that start after the call, in sequence', async () => {
      await h.source.open();
      let last = 0;
      for (let i = 0; i < 3; i++) {
        const before = h.clock.now();
        const f = await grab();
        expect(f.exposureStartMs).toBeGreaterThanOrEqual(before);
        expect(f.exposureEndMs).toBeGreaterThanOrEqual(f.exposureStartMs);
        expect(f.exposureUs).toBeGreaterThan(0);
        expect(f.sequence).toBeGreaterThan(last);
        last = f.sequence;
        f.release();
      }
    });

    it('takes buffers back on release (idempotent), so grabs never run out while frames are released', async () => {
      await h.source.open();
      for (let i = 0; i < h.poolSize * 3; i++) {
        const f = await h.source.grab();
        f.release();
        f.release();
      }
      const c = h.source.counters();
      expect(c.delivered).toBe(h.poolSize * 3);
      expect(c.leaked).toBe(0);
      expect(c.errors).toBe(0);
    });

    it('fails a grab with timeout, counted, when the consumer holds every buffer; releasing recovers', async () => {
      await h.source.open();
      for (let i = 0; i < h.poolSize; i++) await grab();
      const err = await rejection(h.source.grab({ timeoutMs: opts.exhaustedTimeoutMs ?? 1000 }));
      expect(err.timeout).toBe(true);
      const c = h.source.counters();
      expect(c.dropped + c.timeouts).toBeGreaterThanOrEqual(1);
      for (const f of held.splice(0)) f.release();
      const f = await grab();
      expect(f.data.length).toBe(f.width * f.height);
    });

    it('cancels a grab whose signal aborts, before or while it waits', async () => {
      await h.source.open();
      const pre = new AbortController();
      pre.abort();
      expect((await rejection(h.source.grab({ signal: pre.signal }))).canceled).toBe(true);
      const ac = new AbortController();
      const pending = h.source.grab({ signal: ac.signal });
      ac.abort();
      expect((await rejection(pending)).canceled).toBe(true);
      const f = await grab(); // still usable
      expect(f.width).toBeGreaterThan(0);
    });

    it('cancels pending grabs on close, refuses grabs while closed, and opens again', async () => {
      await h.source.open();
      const pending = rejection(h.source.grab());
      await h.source.close();
      expect((await pending).canceled).toBe(true);
      expect(h.source.state).toBe('closed');
      const closed = await rejection(h.source.grab());
      expect(closed.disconnected).toBeFalsy();
      await h.source.open();
      const f = await grab();
      expect(f.data.length).toBe(f.width * f.height);
    });

    it('reclaims a frame that is never released through its finaliser, counted as leaked', async () => {
      await h.source.open();
      await (async () => {
        await h.source.grab(); // dropped on the floor
      })();
      expect(await collectUntil(() => h.source.counters().leaked >= 1)).toBe(true);
      for (let i = 0; i < h.poolSize; i++) await grab(); // the reclaimed buffer is usable again
    });

    it('applies exposure and gain to the next frames and refuses values out of range', async () => {
      await h.source.open();
      await h.source.setExposure(5000);
      expect(h.source.info().exposureUs).toBeCloseTo(5000, 3);
      const f = await grab();
      expect(f.exposureUs).toBeCloseTo(5000, 3);
      await h.source.setGain(2);
      expect(h.source.info().gainDb).toBeCloseTo(2, 3);
      const e1 = await h.source.setExposure(-1).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(e1).toBeInstanceOf(RangeError);
      expect(e1!.message).toMatch(/^Expected an exposure between \d+ and \d+ µs but received -1$/);
      const e2 = await h.source.setGain(-5).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(e2).toBeInstanceOf(RangeError);
      expect(e2!.message).toMatch(/^Expected a gain between \d+ and \d+ dB but received -5$/);
      expect(h.source.info().exposureUs).toBeCloseTo(5000, 3);
    });

    it('reports disconnection, rejects grabs with disconnected, and can be opened again', async (ctx) => {
      if (!h.disconnect) return ctx.skip();
      await h.source.open();
      await grab();
      const events: unknown[] = [];
      h.source.on('disconnected', (e) => events.push(e));
      const pending = h.source.grab({ timeoutMs: opts.disconnectTimeoutMs ?? 20_000 });
      pending.catch(() => undefined);
      await h.disconnect();
      const deadline = Date.now() + (opts.disconnectTimeoutMs ?? 20_000);
      while (h.source.state !== 'disconnected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(h.source.state).toBe('disconnected');
      expect(events).toHaveLength(1);
      const err = await rejection(pending);
      expect(err.disconnected || err.timeout).toBe(true);
      expect((await rejection(h.source.grab())).disconnected).toBe(true);
      await h.reconnect!();
      await h.source.open();
      expect(h.source.state).toBe('open');
      const f = await grab();
      expect(f.data.length).toBe(f.width * f.height);
    });
  });
}
