import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchQueue } from '../../src/scan/batch.js';
import { ScanControl } from '../../src/scan/control.js';
import { FocusMap, brenner } from '../../src/scan/focus.js';
import { ScanJournal } from '../../src/scan/journal.js';
import { parseRecipe } from '../../src/scan/recipe.js';
import { judge } from '../../src/scan/summary.js';
import { ConfigError } from '../../src/kernel/validate.js';
import { eventId } from '../../src/scan/zoom.js';

const outline = { xUm: 0, yUm: 0, widthUm: 1000, heightUm: 1000 };

describe('recipe', () => {
  it('fills defaults and names bad fields with path, value and expectation', () => {
    const r = parseRecipe({ id: 'r1', outline });
    expect(r.survey.objective).toBe('5x');
    expect(r.zoom.maxTargets).toBe(500);
    try {
      parseRecipe({ id: 'r1', outline: { ...outline, widthUm: -5 }, zoom: { objective: '5x' }, acceptance: { maxDefectsPerCm2: { dent: 3 } } }, 'r.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toContain('outline.widthUm: -5 — expected a number >= 1 µm (Width)');
    }
    expect(() => parseRecipe({ id: 'r1', outline, acceptance: { maxDefectsPerCm2: { dent: 3 } } }, 'r.yaml')).toThrow(
      'acceptance.maxDefectsPerCm2.dent: 3 — expected a class of this recipe (scratch, pit, particle, crack, total)',
    );
    expect(() => parseRecipe({ id: 'r1', outline, zoom: { objective: '5x' } }, 'r.yaml')).toThrow(
      'zoom.objective: "5x" — expected a different objective than survey.objective',
    );
  });
});

describe('acceptance', () => {
  it('fails a sample on density or size and says why', () => {
    const r = parseRecipe({ id: 'r', outline, acceptance: { maxDefectsPerCm2: { pit: 100 }, maxDefectSizeUm: { total: 50 } } });
    const area = 0.01; // cm²
    const ok = judge(r, [{ className: 'pit', sizeUm: 10, confidence: 0.9 }], area);
    expect(ok.pass).toBe(true);
    const bad = judge(
      r,
      [
        { className: 'pit', sizeUm: 10, confidence: 0.9 },
        { className: 'pit', sizeUm: 12, confidence: 0.9 },
        { className: 'scratch', sizeUm: 80, confidence: 0.8 },
        { className: 'scratch', sizeUm: 900, confidence: 0.1 },
      ],
      area,
    );
    expect(bad.pass).toBe(false);
    expect(bad.reasons).toEqual(['pit: 200.00 defects/cm² exceeds 100/cm²', 'total: largest defect 80.0 µm exceeds 50 µm']);
    expect(bad.countsByClass).toMatchObject({ pit: 2, scratch: 1 });
  });

  it('judges nothing when the recipe states no criteria', () => {
    const r = parseRecipe({ id: 'r', outline });
    const v = judge(
      r,
      [
        { className: 'pit', sizeUm: 10, confidence: 0.9 },
        { className: 'pit', sizeUm: 10, confidence: 0.2 },
      ],
      0.01,
    );
    expect(v.judged).toBe(false);
    expect(v.pass).toBe(false);
    expect(v.belowConfidence).toBe(1);
  });
});

describe('focus', () => {
  it('fits a plane from three points and a quadratic from six', () => {
    const m = new FocusMap();
    const plane = (x: number, y: number): number => 5 + 0.002 * x - 0.001 * y;
    for (const [x, y] of [
      [0, 0],
      [1000, 0],
      [0, 1000],
    ])
      m.add(x!, y!, plane(x!, y!));
    expect(m.at(500, 500)).toBeCloseTo(plane(500, 500), 9);
    const quad = (x: number, y: number): number => 1 + 1e-6 * (x - 500) ** 2 + 2e-6 * (y - 300) ** 2;
    const q = new FocusMap();
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) q.add(i * 500, j * 500, quad(i * 500, j * 500));
    expect(q.at(250, 750)).toBeCloseTo(quad(250, 750), 6);
    expect(q.residualUm()).toBeLessThan(1e-6);
  });

  it('scores sharp frames above blurred ones', () => {
    const sharp = new Uint16Array(64 * 64);
    const blurred = new Uint16Array(64 * 64);
    for (let y = 0; y < 64; y++)
      for (let x = 0; x < 64; x++) {
        sharp[y * 64 + x] = ((x >> 2) + (y >> 2)) % 2 ? 3000 : 1000;
        blurred[y * 64 + x] = 2000 + 50 * Math.sin(x / 5);
      }
    expect(brenner(sharp, 64, 64)).toBeGreaterThan(brenner(blurred, 64, 64) * 10);
  });
});

describe('journal', () => {
  it('replays what was written and drops a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-journal-'));
    const j = new ScanJournal(dir, 's1');
    j.append({ t: 'focus', x: 1, y: 2, z: 3, objective: '5x' });
    j.append({ t: 'published', eventId: 'e1' });
    j.close();
    writeFileSync(join(dir, 's1.jsonl'), readFileSync(join(dir, 's1.jsonl'), 'utf8') + '{"t":"tar');
    const k = new ScanJournal(dir, 's1');
    expect(k.replayed).toEqual([
      { t: 'focus', x: 1, y: 2, z: 3, objective: '5x' },
      { t: 'published', eventId: 'e1' },
    ]);
    expect(k.torn).toBe(1);
    k.append({ t: 'published', eventId: 'e2' });
    k.close();
    expect(new ScanJournal(dir, 's1').replayed).toHaveLength(3);
  });

  it('derives the same sortable event id for the same scan, target and defect', () => {
    const a = eventId('scan-1', 1_700_000_000_000, 3, 0);
    expect(eventId('scan-1', 1_700_000_000_000, 3, 0)).toBe(a);
    expect(eventId('scan-1', 1_700_000_000_000, 3, 1)).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(eventId('scan-1', 1_700_000_000_000, 4, 0) > a).toBe(true);
  });
});

describe('control', () => {
  it('holds at a checkpoint while paused and throws when aborted', async () => {
    const c = new ScanControl();
    c.set('running');
    expect(c.pause()).toBe(true);
    let passed = false;
    const p = c.checkpoint().then(() => (passed = true));
    // Only a state change wakes a checkpoint (no timer): once pending promise callbacks have run, it is still held.
    await new Promise((r) => setImmediate(r));
    expect(passed).toBe(false);
    c.resume();
    await p;
    expect(passed).toBe(true);
    c.fault('stage disconnected');
    expect(c.state).toBe('faulted');
    const q = c.checkpoint();
    c.abort('operator');
    await expect(q).rejects.toThrow('scan aborted: operator');
    expect(c.signal.aborted).toBe(true);
  });
});

describe('batch queue', () => {
  it('keeps jobs in order across restarts and resumes a job left running', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'smartscope-batch-')), 'queue.json');
    const q = new BatchQueue(path, () => new Date('2026-01-02T03:04:05Z'));
    const a = q.enqueue({ sampleId: 'S1', lot: 'L1', recipeId: 'r' });
    q.enqueue({ sampleId: 'S2', lot: 'L1', recipeId: 'r' });
    expect(a.scanId).toBe('scan-20260102T030405-0001-S1');
    expect(() => q.enqueue({ sampleId: 'S1', lot: 'L1', recipeId: 'r' })).toThrow('sample S1 is already queued');
    expect(() => q.enqueue({ sampleId: 'bad id', lot: 'L1', recipeId: 'r' })).toThrow('sampleId must be 1–64 characters');
    q.update(a.scanId, { state: 'running' });
    const again = new BatchQueue(path);
    expect(again.next()!.scanId).toBe(a.scanId);
    again.update(a.scanId, { state: 'done', result: 'PASS' });
    expect(again.next()!.sampleId).toBe('S2');
  });
});
