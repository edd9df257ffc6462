import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Records } from '../../src/records/records.js';

const qc = { user: 'dana', from: 'web 10.0.0.5', via: 'web' as const };

describe('defect reviews', () => {
  it('stores who reviewed a defect and when, with an audit row, and refuses what makes no sense', () => {
    const r = Records.open({ path: join(mkdtempSync(join(tmpdir(), 'smartscope-reviews-')), 'records.db') });
    r.ensureSample('S-1');
    r.startScan({ id: 'scan-1', sampleId: 'S-1', device: 'd', softwareVersion: '0' });
    r.recordTile('scan-1', { phase: 'zoom', seq: 0, xUm: 0, yUm: 0 }, [
      { uid: 'def-1', class: 'scratch', confidence: 0.9, xUm: 1, yUm: 2, outline: { bitDepth: 12, bboxPx: [1, 2, 3, 4] } },
    ]);
    expect(() => r.reviewDefect('nope', { verdict: 'false' }, qc)).toThrow('no defect nope in the records');
    expect(() => r.reviewDefect('def-1', { verdict: 'reclassified' }, qc)).toThrow('a reclassification needs the corrected class');
    const row = r.reviewDefect('def-1', { verdict: 'reclassified', class: 'crack' }, qc);
    expect(row).toMatchObject({ defectUid: 'def-1', user: 'dana', origin: 'web 10.0.0.5', verdict: 'reclassified', class: 'crack' });
    expect(r.reviewsOf('def-1')).toEqual([row]);
    expect(r.pendingAudit()).toEqual([
      expect.objectContaining({
        action: 'defect.review',
        subject: 'def-1',
        user: 'dana',
        via: 'web',
        details: { verdict: 'reclassified', modelClass: 'scratch', class: 'crack' },
      }),
    ]);
    expect(JSON.parse((r.db.prepare("SELECT outline FROM defects WHERE uid = 'def-1'").get() as { outline: string }).outline)).toEqual({
      bitDepth: 12,
      bboxPx: [1, 2, 3, 4],
    });
    expect(r.integrityProblems()).toEqual([]);
    r.close();
  });
});
