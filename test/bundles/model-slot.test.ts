import { describe, expect, it } from 'vitest';
import type { ProbationConfig } from '../../src/bundles/config.js';
import { judgeProbation, ModelSlot, type LoadedModel } from '../../src/bundles/model-slot.js';
import type { ActiveModel } from '../../src/bundles/store.js';

const probation: ProbationConfig = { durationS: 60, minFrames: 5, maxErrorRate: 0.1, maxLatencyRatio: 2, minDetectionRatio: 0.25, maxDetectionRatio: 4 };

class FakeModel implements LoadedModel {
  closed = false;
  warmed = 0;
  constructor(
    readonly id: string,
    readonly detections: number,
    readonly fail = false,
  ) {}
  async warmup(runs: number): Promise<void> {
    this.warmed += runs;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async infer(): Promise<number> {
    if (this.fail) throw new Error('inference failed');
    return this.detections;
  }
}

const active = (id: string): ActiveModel => ({ id, role: 'zoom', dir: '/x', manifest: {} as ActiveModel['manifest'], manifestSha256: '', keyId: '' });

describe('probation verdicts', () => {
  const base = { frames: 100, errorRate: 0, p95LatencyMs: 10, detectionsPerFrame: 2 };
  it('waits for enough frames', () => {
    expect(judgeProbation(probation, { frames: 4, errorRate: 1, p95LatencyMs: 1, detectionsPerFrame: 0 }, base)).toBeNull();
  });
  it('names each kind of degradation', () => {
    expect(judgeProbation(probation, { frames: 10, errorRate: 0.2, p95LatencyMs: 10, detectionsPerFrame: 2 }, base)).toBe('error rate 20.0% exceeds 10.0%');
    expect(judgeProbation(probation, { frames: 10, errorRate: 0, p95LatencyMs: 25, detectionsPerFrame: 2 }, base)).toBe(
      "p95 latency 25.0 ms is 2.50× the previous model's 10.0 ms (limit 2×)",
    );
    expect(judgeProbation(probation, { frames: 10, errorRate: 0, p95LatencyMs: 10, detectionsPerFrame: 0 }, base)).toBe(
      "0.00 detections per frame against the previous model's 2.00 (ratio 0.05, allowed 0.25–4)",
    );
    expect(judgeProbation(probation, { frames: 10, errorRate: 0, p95LatencyMs: 10, detectionsPerFrame: 9 }, base)).toBe(
      "9.00 detections per frame against the previous model's 2.00 (ratio 4.33, allowed 0.25–4)",
    );
    expect(judgeProbation(probation, { frames: 10, errorRate: 0, p95LatencyMs: 12, detectionsPerFrame: 2.5 }, base)).toBeNull();
  });
  it('without a baseline only the error rate counts', () => {
    expect(judgeProbation(probation, { frames: 10, errorRate: 0, p95LatencyMs: 1000, detectionsPerFrame: 0 }, null)).toBeNull();
  });
});

describe('model slot', () => {
  it('swaps between calls: the old model finishes its frame and is closed after it, warmed-up new one serves the next', async () => {
    const models = new Map([
      ['a@1', new FakeModel('a@1', 2)],
      ['a@2', new FakeModel('a@2', 2)],
    ]);
    const slot = new ModelSlot<FakeModel>('zoom', async (a) => models.get(a.id)!, { warmupRuns: 3, probation });
    await slot.swapTo(active('a@1'), false);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inFlight = slot.use(async (m) => {
      await gate;
      return m.id;
    });
    await slot.swapTo(active('a@2'), true);
    expect(slot.current!.id).toBe('a@2');
    expect(models.get('a@2')!.warmed).toBe(3);
    expect(models.get('a@1')!.closed).toBe(false);
    release();
    expect(await inFlight).toBe('a@1');
    await new Promise((r) => setTimeout(r, 0));
    expect(models.get('a@1')!.closed).toBe(true);
    expect(await slot.use(async (m) => m.id)).toBe('a@2');
  });

  it('reports a degraded model once and a healthy one as passed', async () => {
    const degraded: string[] = [];
    const passed: string[] = [];
    const models = new Map([
      ['a@1', new FakeModel('a@1', 2)],
      ['a@2', new FakeModel('a@2', 0)],
      ['a@3', new FakeModel('a@3', 2)],
    ]);
    const slot = new ModelSlot<FakeModel>('zoom', async (a) => models.get(a.id)!, {
      warmupRuns: 0,
      // Latency is not what this test is about (fake models run in microseconds): a ratio limit that cannot trip.
      probation: { ...probation, durationS: 0.001, maxLatencyRatio: 100 },
      onDegraded: (_r, id, reason) => degraded.push(`${id}: ${reason}`),
      onProbationPassed: (_r, id) => passed.push(id),
    });
    const frames = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++)
        await slot
          .use(
            (m) => m.infer(),
            (d) => d,
          )
          .catch(() => {});
    };
    await slot.swapTo(active('a@1'), false);
    await frames(10);
    await slot.swapTo(active('a@2'), true);
    expect(slot.onProbation).toBe(true);
    await frames(10);
    expect(degraded).toEqual(["a@2: 0.00 detections per frame against the previous model's 2.00 (ratio 0.05, allowed 0.25–4)"]);
    await slot.swapTo(active('a@3'), true);
    await new Promise((r) => setTimeout(r, 5)); // past the 1 ms probation
    await frames(10);
    expect(passed).toEqual(['a@3']);
    expect(slot.onProbation).toBe(false);
  });

  it('keeps serving the old model when the new one fails to warm up', async () => {
    const bad = new FakeModel('a@2', 1);
    bad.warmup = async () => {
      throw new Error('CUDA out of memory');
    };
    const slot = new ModelSlot<FakeModel>('zoom', async (a) => (a.id === 'a@1' ? new FakeModel('a@1', 1) : bad), { warmupRuns: 1, probation });
    await slot.swapTo(active('a@1'), false);
    await expect(slot.swapTo(active('a@2'), true)).rejects.toThrow('CUDA out of memory');
    expect(slot.current!.id).toBe('a@1');
    expect(bad.closed).toBe(true);
  });
});
