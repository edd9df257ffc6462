import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanControl } from '../../src/scan/control.js';
import { runScan, type ScanResult } from '../../src/scan/engine.js';
import { scoreScan } from '../../src/sim/scoring.js';
import { scanRig, type ScanRig } from '../support/scan-rig.js';

describe('scan engine on the twin', () => {
  let rig: ScanRig;
  let result: ScanResult;

  beforeAll(async () => {
    rig = await scanRig();
    result = await runScan(rig.deps, { scanId: 'scan-e2e', sampleId: 'S-1', lot: 'L-7', recipe: rig.recipe }, new ScanControl());
  });
  afterAll(() => rig.close());

  it('surveys, visits candidates and confirms defects that are really there', () => {
    const s = result.summary;
    expect(s.state).toBe('finished');
    expect(s.surveyFields).toBeGreaterThanOrEqual(4);
    expect(s.candidates).toBeGreaterThan(0);
    expect(s.targetsVisited).toBeGreaterThan(0);
    expect(s.confirmed).toBeGreaterThan(0);
    const o = rig.recipe.outline;
    const cal = rig.deps.calibration.objectives['50x']!;
    const score = scoreScan(rig.world, [o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm], result.defects, result.outcomes, result.targets, cal.fieldUm, rig.recipe.classes);
    // Most reports lie on real defects, and most targets over a defect had it in the field.
    expect(score.localisedShare).toBeGreaterThan(0.5);
    expect(score.landedShare).toBeGreaterThan(0.8);
  });

  it('publishes one event per confirmed defect with its provenance, and a thumbnail', () => {
    expect(rig.sink.defects).toHaveLength(result.defects.length);
    const ids = new Set(rig.sink.defects.map((e) => e.eventId));
    expect(ids.size).toBe(rig.sink.defects.length);
    for (const e of rig.sink.defects) {
      expect(e.sampleId).toBe('S-1');
      expect(e.lot).toBe('L-7');
      expect(e.calibrationVersion).toBe(rig.deps.calibration.version);
      expect(e.models).toEqual({ survey: 'survey@1.0.0', zoom: 'zoom@1.0.0' });
      expect(e.sizeUm).toBeGreaterThan(0);
      expect(e.thumbnail).toBeDefined();
      expect(rig.sink.images.has(e.thumbnail!.id)).toBe(true);
    }
    const kinds = rig.sink.scans.map((e) => e.phase);
    expect(kinds[0]).toBe('started');
    expect(kinds.at(-1)).toBe('finished');
  });

  it('accounts instrument time by phase and activity, and writes the report image and journal', () => {
    const t = result.summary.time;
    expect(t.totalMs).toBeGreaterThan(0);
    expect(t.surveyMs + t.zoomMs).toBeLessThanOrEqual(t.totalMs + 1);
    expect(t.travelMs + t.focusMs + t.captureMs + t.inferenceMs).toBeLessThanOrEqual(t.totalMs + 1);
    expect(t.hiddenInferenceShare).toBeGreaterThanOrEqual(0);
    expect(t.hiddenInferenceShare).toBeLessThanOrEqual(1);
    expect(existsSync(result.summary.reportImage!)).toBe(true);
    const journal = readFileSync(join(rig.deps.stateDir, 'journal', 'scan-e2e.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(journal[0].t).toBe('begin');
    expect(journal.at(-1).t).toBe('end');
    expect(journal.filter((r) => r.t === 'published')).toHaveLength(result.defects.length);
  });

  it('returns the finished summary when asked to run a finished scan again, publishing nothing', async () => {
    const before = rig.sink.defects.length;
    const again = await runScan(rig.deps, { scanId: 'scan-e2e', sampleId: 'S-1', lot: 'L-7', recipe: rig.recipe }, new ScanControl());
    expect(again.resumed).toBe(true);
    expect(again.summary.confirmed).toBe(result.summary.confirmed);
    expect(rig.sink.defects.length).toBe(before);
  });
});

describe('scan control', () => {
  it('pauses between steps, resumes, and aborts with the results so far clearly marked', async () => {
    const rig = await scanRig({ seed: 12 });
    try {
      const control = new ScanControl();
      const states: string[] = [];
      control.on('state', (s: string) => states.push(s));
      let paused = false;
      const done = runScan({ ...rig.deps, onProgress: (p) => {
        if (p.phase === 'survey' && p.done === 2 && !paused) {
          paused = true;
          control.pause();
          setTimeout(() => control.resume(), 200);
        }
        if (p.phase === 'zoom' && p.done >= 1) control.abort('operator test');
      } }, { scanId: 'scan-ctl', sampleId: 'S-2', lot: 'L', recipe: rig.recipe }, control);
      const r = await done;
      expect(states).toContain('paused');
      expect(r.summary.state).toBe('aborted');
      expect(r.summary.pass).toBe(false);
      expect(r.summary.reasons[0]).toBe('scan aborted (operator test): results cover only what was inspected');
      expect(rig.sink.scans.at(-1)!.phase).toBe('finished');
    } finally {
      await rig.close();
    }
  });

  it('pauses in a faulted state when the stage link drops, and finishes after it is back and resumed', async () => {
    const rig = await scanRig({ seed: 13, density: 0.002 });
    try {
      const control = new ScanControl();
      let unplugged = false;
      control.on('state', (s: string) => {
        if (s === 'faulted') {
          expect(control.reason).toMatch(/disconnect|cable|closed|port/i);
          void rig.stage.replug().then(() => setTimeout(() => control.resume(), 300));
        }
      });
      const r = await runScan(
        { ...rig.deps, onProgress: (p) => {
          if (p.phase === 'survey' && p.done === 1 && !unplugged) {
            unplugged = true;
            void rig.stage.unplug();
          }
        } },
        { scanId: 'scan-fault', sampleId: 'S-3', lot: 'L', recipe: rig.recipe },
        control,
      );
      expect(unplugged).toBe(true);
      expect(r.summary.state).toBe('finished');
      const journal = readFileSync(join(rig.deps.stateDir, 'journal', 'scan-fault.jsonl'), 'utf8');
      expect(journal).toContain('"state":"faulted"');
    } finally {
      await rig.close();
    }
  }, 180_000);
});
