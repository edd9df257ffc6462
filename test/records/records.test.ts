import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AuditRelay, type AuditPublisher } from '../../src/appliance/audit-relay.js';
import { ImageStore } from '../../src/records/images.js';
import { Records, SCHEMA_VERSION } from '../../src/records/records.js';

let dir: string;
let r: Records;
let images: ImageStore;
const actor = { user: 'tech', from: 'ssh 10.0.0.5', via: 'cli' as const };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-records-'));
  r = Records.open({ path: join(dir, 'records.db') });
  images = new ImageStore(join(dir, 'images'), r);
});

function scanWithDefect(): void {
  r.ensureSample('S-100', 'coupon 100');
  r.registerCalibration('cal-2026-01', '50x', { pixelToStage: [1, 0, 0, 1] });
  r.registerModel({ id: 'unet@1.2.0', name: 'unet', version: '1.2.0', role: 'zoom', manifestSha256: 'b'.repeat(64), keyId: 'k1' });
  r.startScan({
    id: 'scan-7',
    sampleId: 'S-100',
    device: 'site1/line1/scope1',
    softwareVersion: '0.1.0',
    calibrationId: 'cal-2026-01',
    zoomModelId: 'unet@1.2.0',
  });
  const img = images.put(Buffer.from('jpeg bytes'), { format: 'jpeg', width: 128, height: 128 });
  r.recordTile('scan-7', { phase: 'zoom', seq: 0, xUm: 100, yUm: 200, objective: '50x', imageId: img.id, modelId: 'unet@1.2.0' }, [
    { uid: 'def-1', class: 'scratch', confidence: 0.93, xUm: 101.5, yUm: 202, widthUm: 3, heightUm: 40, areaUm2: 95, calibrationId: 'cal-2026-01' },
  ]);
  r.finishScan('scan-7', 'completed', { defects: 1 });
}

describe('records', () => {
  it('answers which model and calibration produced a defect on a sample', () => {
    scanWithDefect();
    expect(r.provenance('def-1')).toMatchObject({
      defect_uid: 'def-1',
      class: 'scratch',
      sample_id: 'S-100',
      scan_id: 'scan-7',
      objective: '50x',
      model_id: 'unet@1.2.0',
      model_manifest_sha256: 'b'.repeat(64),
      calibration_id: 'cal-2026-01',
      image_deleted_at: null,
    });
    expect(r.defectsOfSample('S-100')).toHaveLength(1);
    expect(r.integrityProblems()).toEqual([]);
  });

  it('refuses to record different data under an existing calibration id', () => {
    r.registerCalibration('cal-1', '5x', { a: 1 });
    expect(r.registerCalibration('cal-1', '5x', { a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(() => r.registerCalibration('cal-1', '5x', { a: 2 })).toThrow(
      'calibration cal-1 is already recorded with different data; give the new calibration a new id',
    );
  });

  it('refuses a database written by newer software', () => {
    r.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    r.close();
    expect(() => Records.open({ path: join(dir, 'records.db') })).toThrow(
      `records database schema version ${SCHEMA_VERSION + 1} is newer than this software understands (${SCHEMA_VERSION}); update smartscope`,
    );
  });

  it('stores images by content and keeps their records after retention deletes the files', () => {
    scanWithDefect();
    const again = images.put(Buffer.from('jpeg bytes'), { format: 'jpeg' });
    expect(again.id).toBe(1);
    const old = images.put(Buffer.alloc(1000, 1), { format: 'raw' });
    r.db.prepare("UPDATE images SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?").run(old.id);
    const rep = images.applyRetention({ intervalMin: 10, recordsMaxAgeDays: 3650, imagesMaxAgeDays: 90, imagesMaxMb: 1000, minFreeMb: 0 });
    expect(rep).toMatchObject({ imagesDeleted: 1, bytesFreed: 1000, scansDeleted: 0, reasons: { age: 1, quota: 0, disk: 0 } });
    expect(existsSync(old.path)).toBe(false);
    expect(r.db.prepare('SELECT deleted_at IS NOT NULL AS gone FROM images WHERE id = ?').get(old.id)).toEqual({ gone: 1 });
    expect(existsSync(again.path)).toBe(true);
  });

  it('deletes the oldest images first to stay within the quota and the free-space floor', () => {
    const stored = Array.from({ length: 6 }, (_, i) => images.put(Buffer.alloc(400 * 1024, i + 1), { format: 'raw' }));
    stored.forEach((s, i) => r.db.prepare('UPDATE images SET created_at = ? WHERE id = ?').run(`2026-01-0${i + 1}T00:00:00.000Z`, s.id));
    const now = new Date('2026-01-10T00:00:00Z');
    // 6 × 400 KiB = 2.34 MiB against a 2 MiB quota: the oldest goes.
    let rep = images.applyRetention({ intervalMin: 10, recordsMaxAgeDays: 3650, imagesMaxAgeDays: 90, imagesMaxMb: 2, minFreeMb: 0 }, now);
    expect(rep.reasons).toEqual({ age: 0, quota: 1, disk: 0 });
    expect(existsSync(stored[0]!.path)).toBe(false);
    // A disk that reports too little free space until two more images are gone.
    let free = 0;
    rep = images.applyRetention({ intervalMin: 10, recordsMaxAgeDays: 3650, imagesMaxAgeDays: 90, imagesMaxMb: 100, minFreeMb: 1 }, now, () => free);
    expect(rep.reasons.disk).toBeGreaterThan(0);
    expect(existsSync(stored[1]!.path)).toBe(false);
    expect(existsSync(stored[5]!.path)).toBe(rep.reasons.disk < 5);
    free = Infinity;
    expect(
      images.applyRetention({ intervalMin: 10, recordsMaxAgeDays: 3650, imagesMaxAgeDays: 90, imagesMaxMb: 100, minFreeMb: 1 }, now, () => free).imagesDeleted,
    ).toBe(0);
  });

  it('deletes old finished scans with their tiles and defects, never running ones', () => {
    scanWithDefect();
    r.startScan({ id: 'scan-8', sampleId: 'S-100', device: 'd', softwareVersion: '0.1.0', startedAt: new Date('2000-01-01T00:00:00Z') });
    r.db.prepare("UPDATE scans SET started_at = '2000-01-01T00:00:00.000Z' WHERE id = 'scan-7'").run();
    const rep = images.applyRetention({ intervalMin: 10, recordsMaxAgeDays: 365, imagesMaxAgeDays: 36500, imagesMaxMb: 1000, minFreeMb: 0 });
    expect(rep.scansDeleted).toBe(1);
    expect(r.provenance('def-1')).toBeUndefined();
    expect(r.unfinishedScans().map((s) => s.id)).toEqual(['scan-8']);
    expect(r.integrityProblems()).toEqual([]);
  });
});

describe('audit trail', () => {
  it('relays audit rows to the event sink in order, retrying after a refusal', async () => {
    r.audit({ action: 'model.install.request', subject: '/home/tech/b.tar', outcome: 'ok', actor });
    r.audit({ action: 'model.activate', subject: 'unet@1.3.0', outcome: 'ok', actor, details: { role: 'zoom' } });
    r.audit({ action: 'model.rollback', subject: 'unet@1.2.0', outcome: 'ok', actor: { user: 'smartscope', from: 'daemon', via: 'daemon' } });
    const got: Array<Parameters<AuditPublisher['audit']>[0]> = [];
    let refuse = 1;
    const sink: AuditPublisher = {
      async audit(e) {
        if (e.action === 'model.activate' && refuse-- > 0) throw new Error('outbox full');
        got.push(e);
      },
    };
    const relay = new AuditRelay(r, sink, 60_000);
    await relay.flush();
    expect(got.map((e) => e.action)).toEqual(['model.install.request']);
    await relay.flush();
    expect(got.map((e) => e.action)).toEqual(['model.install.request', 'model.activate', 'model.rollback']);
    expect(got[1]).toEqual({
      action: 'model.activate',
      actor: { kind: 'ssh', id: 'tech' },
      outcome: 'ok',
      details: { auditId: 2, at: expect.any(String), from: 'ssh 10.0.0.5', via: 'cli', result: 'ok', subject: 'unet@1.3.0', role: 'zoom' },
    });
    expect(got[2]!.actor).toEqual({ kind: 'system', id: 'smartscope' });
    expect(r.pendingAudit()).toEqual([]);
  });
});
