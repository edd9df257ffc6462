/**
 * The scan engine's ScanSink port over an EventSink: what the engine hands over becomes payloads that validate
 * against the published schemas, with the engine's event ids kept and its acceptance reasons structured.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import { MemoryEventSink } from '../../src/publish/memory-sink.js';
import { reason, scanSinkFor } from '../../src/appliance/scan-sink.js';
import { payloadValidator } from '../../src/publish/schemas/index.js';
import type { ConfirmedDefect, ScanContext } from '../../src/scan/ports.js';
import type { Recipe } from '../../src/scan/recipe.js';
import { judge, type ScanSummary } from '../../src/scan/summary.js';
import { device, tempDir } from '../publish/fixtures.js';

const ctx: ScanContext = {
  scanId: 'scan-7',
  sampleId: 'S-7',
  lot: 'L-1',
  recipeId: 'polished-steel',
  recipeVersion: '3',
  calibrationVersion: 'cal-1',
  surveyModel: 'survey@1.2.0',
  zoomModel: 'zoom@1.1.0',
};

const defect: ConfirmedDefect = {
  eventId: '01a21381-54d2-752a-9885-c9547fc138b5',
  scanId: 'scan-7',
  defectIndex: 4,
  className: 'scratch',
  confidence: 0.93,
  sizeUm: 61.5,
  widthUm: 2.2,
  areaUm2: 98,
  orientationDeg: 150,
  stageXUm: 10_500,
  stageYUm: 8_200,
  sampleXUm: 500,
  sampleYUm: 1_200,
  bboxUm: [470, 1180, 530, 1220],
  provenance: {
    surveyTile: 12,
    candidateScore: 0.66,
    stagePose: { x: 10_500, y: 8_200, z: 151.2 },
    objective: '50x',
    focusScore: 3.7,
    calibrationVersion: 'cal-1',
    surveyModel: 'survey@1.2.0',
    zoomModel: 'zoom@1.1.0',
    fields: 1,
    capturedAt: '2026-11-25T10:00:01.000Z',
    detectedAt: '2026-11-25T10:00:01.040Z',
  },
};

describe('scanSinkFor', () => {
  it('maps a confirmed defect with its thumbnail, keeping the engine event id', async () => {
    const sink = new MemoryEventSink(device, new SimClock());
    const pixels = new Uint16Array(96 * 96).fill(2000);
    for (let i = 20; i < 76; i++) pixels[i * 96 + i] = 200;
    await scanSinkFor(sink).defect(defect, ctx, {
      pixels,
      width: 96,
      height: 96,
      bitDepth: 12,
      bboxPx: [18, 18, 60, 60],
      contourPx: [
        [20, 20],
        [75, 75],
      ],
      probability: new Float32Array(96 * 96).fill(0.4),
    });
    const e = sink.defects[0]!;
    expect(payloadValidator('defect-event')(e)).toBe(true);
    expect(e).toMatchObject({
      eventId: defect.eventId,
      ts: '2026-11-25T10:00:01.040Z',
      defectId: '4',
      lot: 'L-1',
      recipe: { id: 'polished-steel', version: '3' },
      orientationDeg: -30,
      bboxSample: { xUm: 470, yUm: 1180, widthUm: 60, heightUm: 40 },
      objective: { name: '50x', magnification: 50 },
      stagePose: { xUm: 10_500, yUm: 8_200, zUm: 151.2 },
      models: { survey: 'survey@1.2.0', zoom: 'zoom@1.1.0' },
    });
    expect(sink.images.get(e.thumbnail!.id)!.subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('maps scan events and the summary, structures acceptance reasons, and attaches the report image', async () => {
    const dir = tempDir('scan-sink-');
    const report = join(dir, 'report.png');
    await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 30, g: 30, b: 30 } } })
      .png()
      .toFile(report);
    const sink = new MemoryEventSink(device, new SimClock());
    const ss = scanSinkFor(sink);
    const recipe = {
      classes: ['scratch', 'pit'],
      acceptance: { minConfidence: 0.5, maxDefectsPerCm2: { scratch: 1 }, maxDefectSizeUm: { total: 50 } },
    } as unknown as Recipe;
    const j = judge(
      recipe,
      [
        { className: 'scratch', sizeUm: 61.5, confidence: 0.9 },
        { className: 'scratch', sizeUm: 10, confidence: 0.9 },
      ],
      0.5,
    );
    const summary: ScanSummary = {
      scanId: 'scan-7',
      sampleId: 'S-7',
      lot: 'L-1',
      recipeId: 'polished-steel',
      recipeVersion: '3',
      calibrationVersion: 'cal-1',
      models: { survey: 'survey@1.2.0', zoom: 'zoom@1.1.0' },
      state: 'finished',
      inspectedAreaCm2: 0.5,
      surveyFields: 20,
      candidates: 5,
      targetsVisited: 4,
      targetsSkipped: 1,
      confirmed: 2,
      rejected: 2,
      ...j,
      verdict: j.pass ? 'pass' : 'fail',
      rasterFields: 3,
      time: {
        totalMs: 90_000,
        surveyMs: 30_000,
        zoomMs: 50_000,
        travelMs: 25_000,
        focusMs: 10_000,
        captureMs: 8_000,
        inferenceMs: 12_000,
        otherMs: 5_000,
      } as ScanSummary['time'],
      reportImage: report,
    };
    await ss.scan({ kind: 'started', context: ctx, at: '2026-11-25T10:00:00.000Z', outlineUm: [0, 0, 10_000, 5_000] });
    await ss.scan({ kind: 'progress', context: ctx, at: '2026-11-25T10:00:30.000Z', phase: 'survey', done: 10, total: 20, state: 'running' });
    await ss.scan({ kind: 'state', context: ctx, at: '2026-11-25T10:00:31.000Z', state: 'faulted', reason: 'stage not responding' });
    await ss.scan({ kind: 'finished', context: ctx, at: '2026-11-25T10:01:30.000Z', summary });
    for (const e of sink.scans) expect(payloadValidator('scan-event')(e)).toBe(true);
    expect(sink.scans.map((e) => e.phase)).toEqual(['started', 'progress', 'finished']);
    expect(sink.scans[0]).toMatchObject({ plannedAreaCm2: 0.5, outlineStage: { xUm: 0, yUm: 0, widthUm: 10_000, heightUm: 5_000 } });
    expect(sink.scans[1]).toMatchObject({ stage: 'survey', done: 10, total: 20, fraction: 0.5 });
    expect(sink.states).toEqual([{ state: 'faulted', scanId: 'scan-7', sampleId: 'S-7', message: 'stage not responding' }]);
    const fin = sink.scans[2] as Extract<(typeof sink.scans)[number], { phase: 'finished' }>;
    expect(fin).toMatchObject({ outcome: 'completed', durationMs: 90_000 });
    expect(fin.summary).toMatchObject({
      defectsTotal: 2,
      countsByClass: { scratch: 2, pit: 0 },
      densityPerCm2: { total: 4, byClass: { scratch: 4, pit: 0 } },
      acceptance: {
        result: 'fail',
        reasons: [
          { criterion: 'maxDefectsPerCm2', class: 'scratch', actual: 4, limit: 1, message: 'scratch: 4.00 defects/cm² exceeds 1/cm²' },
          { criterion: 'maxDefectSizeUm', class: 'total', actual: 61.5, limit: 50, message: 'total: largest defect 61.5 µm exceeds 50 µm' },
        ],
      },
      instrumentTime: { surveyMs: 30_000, zoomMs: 50_000, totalMs: 90_000 },
      rasterFields: 3,
    });
    expect(fin.summary.reportImage).toMatchObject({ widthPx: 1600, heightPx: 1067, contentType: 'image/jpeg' });
    expect(reason('operator rejected the sample')).toEqual({ criterion: 'acceptance', message: 'operator rejected the sample' });
    rmSync(dir, { recursive: true, force: true });
  });
});
