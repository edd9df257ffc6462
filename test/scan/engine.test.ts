import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanControl } from '../../src/scan/control.js';
import { runScan, type ScanResult } from '../../src/scan/engine.js';
import { scoreScan } from '../../src/sim/scoring.js';
import { scanRig, type ScanRig } from '../support/scan-rig.js';
import { BundleRefused } from '../../src/bundles/verify.js';
import { cameraError, type FrameSource } from '../../src/camera/frame-source.js';
import type { ScanDetector } from '../../src/scan/ports.js';

// A whole scan with two ONNX models takes seconds on an idle machine and minutes on a busy one: the limits below
// are only there so that a hang ends.
const SCAN_MS = 600_000;

describe('scan engine on the twin', () => {
  let rig: ScanRig;
  let result: ScanResult;

  beforeAll(async () => {
    rig = await scanRig();
    // Candidate by candidate: with the rig's small zoom field, the plan would raster this sample whole ("busy regions"
    // below covers that path).
    rig.recipe = { ...rig.recipe, zoom: { ...rig.recipe.zoom, rasterCoverage: 1, rasterAllShare: 1 } };
    result = await runScan(rig.deps, { scanId: 'scan-e2e', sampleId: 'S-1', lot: 'L-7', recipe: rig.recipe }, new ScanControl());
  }, SCAN_MS);
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
    const score = scoreScan(
      rig.world,
      [o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm],
      result.defects,
      result.outcomes,
      result.targets,
      cal.fieldUm,
      rig.recipe.classes,
    );
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
    const journal = readFileSync(join(rig.deps.stateDir, 'journal', 'scan-e2e.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(journal[0].t).toBe('begin');
    expect(journal.at(-1).t).toBe('end');
    expect(journal.filter((r) => r.t === 'published')).toHaveLength(result.defects.length);
  });

  it(
    'returns the finished summary when asked to run a finished scan again, publishing nothing',
    async () => {
      const before = rig.sink.defects.length;
      const again = await runScan(rig.deps, { scanId: 'scan-e2e', sampleId: 'S-1', lot: 'L-7', recipe: rig.recipe }, new ScanControl());
      expect(again.resumed).toBe(true);
      expect(again.summary.confirmed).toBe(result.summary.confirmed);
      expect(rig.sink.defects.length).toBe(before);
    },
    SCAN_MS,
  );
});

describe('scan control', () => {
  it(
    'pauses between steps, resumes, and aborts with the results so far clearly marked',
    async () => {
      const rig = await scanRig({ seed: 12 });
      try {
        const control = new ScanControl();
        const states: string[] = [];
        control.on('state', (s: string) => states.push(s));
        let paused = false;
        const done = runScan(
          {
            ...rig.deps,
            onProgress: (p) => {
              if (p.phase === 'survey' && p.done === 2 && !paused) {
                paused = true;
                control.pause();
                setImmediate(() => control.resume());
              }
              if (p.phase === 'zoom' && p.done >= 1) control.abort('operator test');
            },
          },
          { scanId: 'scan-ctl', sampleId: 'S-2', lot: 'L', recipe: rig.recipe },
          control,
        );
        const r = await done;
        expect(states).toContain('paused');
        expect(r.summary.state).toBe('aborted');
        expect(r.summary.pass).toBe(false);
        expect(r.summary.reasons[0]).toBe('scan aborted (operator test): results cover only what was inspected');
        expect(rig.sink.scans.at(-1)!.phase).toBe('finished');
      } finally {
        await rig.close();
      }
    },
    SCAN_MS,
  );

  it(
    'pauses in a faulted state when the stage link drops, and finishes after it is back and resumed',
    async () => {
      const rig = await scanRig({ seed: 13, density: 0.002 });
      try {
        const control = new ScanControl();
        let unplugged = false;
        control.on('state', (s: string) => {
          if (s === 'faulted') {
            expect(control.reason).toMatch(/disconnect|cable|closed|port/i);
            // Resume once the driver has reconnected and re-read the position (state back to idle), not after a guess.
            const resumeWhenBack = (): void => {
              if (rig.stage.stage.state === 'idle') control.resume();
              else rig.stage.stage.once('state', resumeWhenBack);
            };
            void rig.stage.replug().then(resumeWhenBack);
          }
        });
        const r = await runScan(
          {
            ...rig.deps,
            onProgress: (p) => {
              if (p.phase === 'survey' && p.done === 1 && !unplugged) {
                unplugged = true;
                void rig.stage.unplug();
              }
            },
          },
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
    },
    SCAN_MS,
  );
});

/** The survey detector, failing its second call with `err`. */
function failingSecondCall(inner: ScanDetector, err: Error): ScanDetector {
  let calls = 0;
  return { id: inner.id, classes: inner.classes, detect: (frame, signal) => (++calls === 2 ? Promise.reject(err) : inner.detect(frame, signal)) };
}

describe('device faults pause a scan, other errors fail it', () => {
  const cases: Array<[string, () => Error]> = [
    [
      'a full disk (ENOSPC)',
      () =>
        Object.assign(new Error("ENOSPC: no space left on device, write '/var/lib/smartscope/journal/x'"), { code: 'ENOSPC', errno: -28, syscall: 'write' }),
    ],
    [
      'a permission (EACCES)',
      () => Object.assign(new Error("EACCES: permission denied, open '/var/lib/smartscope/records.db'"), { code: 'EACCES', errno: -13, syscall: 'open' }),
    ],
    ['a refused model bundle', () => new BundleRefused('bad-signature', 'survey@2.0.0: the signature does not verify with any trusted key')],
  ];
  for (const [what, make] of cases) {
    it(
      `fails on ${what}`,
      async () => {
        const rig = await scanRig({ seed: 14, density: 0.002 });
        try {
          const err = make();
          const control = new ScanControl();
          const states: string[] = [];
          control.on('state', (s: string) => states.push(s));
          const r = await runScan(
            { ...rig.deps, surveyDetector: failingSecondCall(rig.deps.surveyDetector, err) },
            { scanId: 'scan-err', sampleId: 'S-4', lot: 'L', recipe: rig.recipe },
            control,
          );
          expect(states).not.toContain('faulted');
          expect(r.summary.state).toBe('failed');
          expect(r.summary.reasons[0]).toBe(`scan failed: ${err.message}`);
        } finally {
          await rig.close();
        }
      },
      SCAN_MS,
    );
  }

  it(
    'pauses when the camera cable is pulled, and finishes after it is back and resumed',
    async () => {
      const rig = await scanRig({ seed: 15, density: 0.002 });
      try {
        const camera = rig.deps.camera;
        let grabs = 0;
        // The camera's port reports a pulled cable on the third grab; the next grab (after resume) works again.
        const grab = (opts?: Parameters<FrameSource['grab']>[0]): ReturnType<FrameSource['grab']> =>
          ++grabs === 3 ? Promise.reject(cameraError('camera twin: link lost (cable pulled)', { disconnected: true })) : camera.grab(opts);
        const unplugged = new Proxy(camera, {
          get: (target, prop) => {
            if (prop === 'grab') return grab;
            const v: unknown = Reflect.get(target, prop, target);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
        const control = new ScanControl();
        const faults: string[] = [];
        control.on('state', (s: string, reason: string) => {
          if (s !== 'faulted') return;
          faults.push(reason);
          setImmediate(() => control.resume());
        });
        const r = await runScan({ ...rig.deps, camera: unplugged }, { scanId: 'scan-cam', sampleId: 'S-5', lot: 'L', recipe: rig.recipe }, control);
        expect(faults).toEqual(['camera twin: link lost (cable pulled)']);
        expect(r.summary.state).toBe('finished');
      } finally {
        await rig.close();
      }
    },
    SCAN_MS,
  );
});

describe('busy regions', () => {
  it('rasters a densely flawed sample at zoom magnification and reports what it finds there', async () => {
    const rig = await scanRig({ seed: 21, density: 0.03, sizeUm: 350 });
    try {
      const r = await runScan(rig.deps, { scanId: 'scan-dense', sampleId: 'S-D', lot: 'L-D', recipe: rig.recipe }, new ScanControl());
      const s = r.summary;
      expect(s.state).toBe('finished');
      expect(s.rasterFields).toBeGreaterThan(0);
      const raster = r.targets.filter((t) => t.raster);
      expect(raster).toHaveLength(s.rasterFields);
      // Each raster field is imaged once, where the grid puts it.
      for (const o of r.outcomes.filter((x) => raster.some((t) => t.index === x.index))) {
        expect(o.fields).toBe(1);
        expect(o.outcome).not.toBe('skipped');
      }
      expect(s.confirmed).toBeGreaterThan(0);
      expect(rig.sink.defects).toHaveLength(r.defects.length);
      const o = rig.recipe.outline;
      const cal = rig.deps.calibration.objectives['50x']!;
      const score = scoreScan(
        rig.world,
        [o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm],
        r.defects,
        r.outcomes,
        r.targets,
        cal.fieldUm,
        rig.recipe.classes,
      );
      expect(score.localisedShare).toBeGreaterThan(0.5);
      expect(score.detectedShare).toBeGreaterThan(0.5);
      // No defect is reported twice because neighbouring raster fields both saw it.
      const ids = new Set(r.defects.map((d) => d.eventId));
      expect(ids.size).toBe(r.defects.length);
      expect(score.matchedCount).toBeLessThanOrEqual(score.truthCount);
    } finally {
      await rig.close();
    }
    // Dozens of zoom fields rendered and inferred on the CPU: room for a loaded machine.
  }, 300_000);
});
