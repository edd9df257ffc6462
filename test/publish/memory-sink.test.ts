import { describe, expect, it } from 'vitest';
import { SimClock } from '../../src/kernel/clock.js';
import { MemoryEventSink } from '../../src/publish/memory-sink.js';
import { payloadValidator } from '../../src/publish/schemas/index.js';
import { defectInput, device, scanFinished, thumbnailSource } from './fixtures.js';

describe('MemoryEventSink (the simulated EventSink)', () => {
  it('builds the same validated payloads as the MQTT sink and keeps them', async () => {
    const sink = new MemoryEventSink(device, new SimClock(new Date('2026-11-25T08:00:00Z')));
    const d = await sink.defect(defectInput(3), thumbnailSource());
    const s = await sink.scan(scanFinished);
    expect(payloadValidator('defect-event')(d)).toBe(true);
    expect(payloadValidator('scan-event')(s)).toBe(true);
    expect(d).toMatchObject({
      ts: '2026-11-25T08:00:00.000Z',
      device,
      historical: false,
      thumbnail: { topic: `smartscope/plant7/lineA/scope3/thumbnails/${d.thumbnail!.id}` },
    });
    expect(sink.images.get(d.thumbnail!.id)!.length).toBe(d.thumbnail!.bytes);
    expect(sink.defects).toEqual([d]);
    await expect(sink.defect({ ...defectInput(1), areaUm2: -1 })).rejects.toThrow('invalid defect event: areaUm2: must be >= 0');
    const kept = await sink.defect({ ...defectInput(2), eventId: '01937f5e-7a00-7000-8000-000000000001', ts: '2026-11-25T07:59:59.000Z' });
    expect(kept).toMatchObject({ eventId: '01937f5e-7a00-7000-8000-000000000001', ts: '2026-11-25T07:59:59.000Z' });
  });

  it('validates commands before a handler sees them', async () => {
    const sink = new MemoryEventSink(device, new SimClock());
    sink.onCommand('enqueue-sample', (req) => ({ queued: req.sampleId }));
    expect(await sink.command('enqueue-sample', { sampleId: 'S-1', recipe: { id: 'r' } })).toEqual({ status: 'ok', data: { queued: 'S-1' } });
    expect(await sink.command('enqueue-sample', { sampleId: 'S-1' })).toEqual({
      status: 'error',
      error: { code: 'invalid', message: "(top level): must have required property 'recipe'" },
    });
    expect(await sink.command('reload-model', {})).toEqual({
      status: 'error',
      error: { code: 'not_available', message: 'no handler for "reload-model" in this runtime' },
    });
    expect((await sink.command('warp', {})).error?.code).toBe('unknown_command');
    expect(() => sink.onCommand('warp' as never, () => 1)).toThrow(
      'Expected one of start-scan, pause-scan, resume-scan, abort-scan, enqueue-sample, reload-model, request-status for command name but received "warp"',
    );
    expect(sink.health().commandsRejected).toBe(3);
  });
});
