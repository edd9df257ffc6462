/**
 * Traceability records in SQLite (better-sqlite3): samples, scans, tiles, defects, images, model and calibration
 * versions, operator commands and the audit trail.
 *
 * Crash safety: WAL journal with synchronous=FULL, so a committed transaction survives a power cut and a kill -9 at
 * any instant leaves the database consistent (https://www.sqlite.org/wal.html, https://www.sqlite.org/atomiccommit.html).
 * A tile and its defects are written in one transaction, so a resumed scan never finds half a tile.
 * Several processes (the daemon, `smartscope model …`) share the file; writers wait up to busyTimeoutMs.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { Actor } from '../kernel/actor.js';
import { mkdirDurable } from '../kernel/durable-fs.js';
import { MIGRATIONS } from './db-schema.js';

export interface RecordsOptions {
  path: string;
  busyTimeoutMs?: number;
  readonly?: boolean;
}

export interface ScanStart {
  id: string;
  sampleId: string;
  device: string;
  softwareVersion: string;
  recipe?: unknown;
  calibrationId?: string | null;
  surveyModelId?: string | null;
  zoomModelId?: string | null;
  startedAt?: Date;
}

export interface TileRecord {
  phase: 'survey' | 'zoom';
  seq: number;
  xUm: number;
  yUm: number;
  zUm?: number | null;
  objective?: string | null;
  focus?: number | null;
  capturedAt?: Date;
  imageId?: number | null;
  modelId?: string | null;
  /** What the tile's model found (defaults to the defects recorded with it; a survey tile counts its candidates). */
  detections?: number;
}

export interface DefectRecord {
  uid: string;
  class: string;
  confidence: number;
  xUm: number;
  yUm: number;
  widthUm?: number | null;
  heightUm?: number | null;
  areaUm2?: number | null;
  modelId?: string | null;
  calibrationId?: string | null;
  imageId?: number | null;
  /** The defect in its crop image: bit depth, box and outline (crop px). */
  outline?: { bitDepth: number; bboxPx: [number, number, number, number]; contourPx?: Array<[number, number]> } | null;
}

export interface AuditRecord {
  action: string;
  subject?: string;
  outcome: 'ok' | 'refused' | 'failed';
  actor: Actor;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  at: string;
  user: string;
  origin: string;
  via: string;
  action: string;
  subject: string | null;
  outcome: string;
  details: Record<string, unknown> | null;
}

export interface DefectReview {
  verdict: 'confirmed' | 'false' | 'reclassified';
  /** The corrected class (reclassified only). */
  class?: string | null;
  note?: string | null;
}

export interface DefectReviewRow extends DefectReview {
  id: number;
  defectUid: string;
  at: string;
  user: string;
  origin: string;
}

export interface UnfinishedScan {
  id: string;
  sampleId: string;
  startedAt: string;
  /** Highest tile sequence number recorded per phase (-1 when none). */
  lastSeq: { survey: number; zoom: number };
  tiles: number;
  defects: number;
}

export const SCHEMA_VERSION = MIGRATIONS.length;

const iso = (d: Date = new Date()): string => d.toISOString();

export class Records {
  readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  static open(opts: RecordsOptions): Records {
    if (!opts.readonly) mkdirDurable(dirname(opts.path));
    const db = new Database(opts.path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000 });
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    const r = new Records(db);
    if (!opts.readonly) r.migrate();
    return r;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`records database schema version ${current} is newer than this software understands (${MIGRATIONS.length}); update smartscope`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db
        .transaction(() => {
          this.db.exec(MIGRATIONS[v]!);
          this.db.pragma(`user_version = ${v + 1}`);
        })
        .immediate();
    }
  }

  close(): void {
    if (!this.db.open) return;
    try {
      if (!this.db.readonly) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Another process holds the database; its own checkpoint will run.
    }
    this.db.close();
  }

  /** `PRAGMA integrity_check` and `foreign_key_check`: an empty list means the database is sound. */
  integrityProblems(): string[] {
    const ic = (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).filter((s) => s !== 'ok');
    const fk = (this.db.pragma('foreign_key_check') as Array<{ table: string; rowid: number; parent: string }>).map(
      (r) => `${r.table} row ${r.rowid} points at a missing ${r.parent}`,
    );
    return [...ic, ...fk];
  }

  ensureSample(id: string, description?: string, meta?: unknown): void {
    this.db
      .prepare('INSERT INTO samples (id, created_at, description, meta) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
      .run(id, iso(), description ?? null, meta === undefined ? null : JSON.stringify(meta));
  }

  /** Stores a calibration by content; the same data always gets the same sha256. Returns the sha256. */
  registerCalibration(id: string, objective: string | null, data: unknown): string {
    const text = JSON.stringify(data);
    const sha = createHash('sha256').update(text).digest('hex');
    const existing = this.db.prepare('SELECT sha256 FROM calibrations WHERE id = ?').get(id) as { sha256: string } | undefined;
    if (existing && existing.sha256 !== sha) throw new Error(`calibration ${id} is already recorded with different data; give the new calibration a new id`);
    this.db
      .prepare('INSERT INTO calibrations (id, created_at, objective, sha256, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
      .run(id, iso(), objective, sha, text);
    return sha;
  }

  registerModel(m: { id: string; name: string; version: string; role: string; manifestSha256: string; keyId: string }): void {
    this.db
      .prepare(
        'INSERT INTO model_versions (id, name, version, role, manifest_sha256, key_id, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
      )
      .run(m.id, m.name, m.version, m.role, m.manifestSha256, m.keyId, iso());
  }

  startScan(s: ScanStart): void {
    this.db
      .prepare(
        `INSERT INTO scans (id, sample_id, started_at, status, device, software_version, recipe, calibration_id, survey_model_id, zoom_model_id)
         VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.id,
        s.sampleId,
        iso(s.startedAt),
        s.device,
        s.softwareVersion,
        s.recipe === undefined ? null : JSON.stringify(s.recipe),
        s.calibrationId ?? null,
        s.surveyModelId ?? null,
        s.zoomModelId ?? null,
      );
  }

  /** One tile and all its defects, atomically. Returns the tile's row id. */
  recordTile(scanId: string, t: TileRecord, defects: DefectRecord[] = []): number {
    const insTile = this.db.prepare(
      `INSERT INTO tiles (scan_id, phase, seq, x_um, y_um, z_um, objective, focus, captured_at, image_id, model_id, detections)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insDefect = this.db.prepare(
      `INSERT INTO defects (uid, scan_id, tile_id, class, confidence, x_um, y_um, width_um, height_um, area_um2, model_id, calibration_id, image_id, created_at, outline)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db
      .transaction(() => {
        const at = iso(t.capturedAt);
        const tileId = Number(
          insTile.run(
            scanId,
            t.phase,
            t.seq,
            t.xUm,
            t.yUm,
            t.zUm ?? null,
            t.objective ?? null,
            t.focus ?? null,
            at,
            t.imageId ?? null,
            t.modelId ?? null,
            t.detections ?? defects.length,
          ).lastInsertRowid,
        );
        for (const d of defects) {
          insDefect.run(
            d.uid,
            scanId,
            tileId,
            d.class,
            d.confidence,
            d.xUm,
            d.yUm,
            d.widthUm ?? null,
            d.heightUm ?? null,
            d.areaUm2 ?? null,
            d.modelId ?? t.modelId ?? null,
            d.calibrationId ?? null,
            d.imageId ?? t.imageId ?? null,
            at,
            d.outline ? JSON.stringify(d.outline) : null,
          );
        }
        return tileId;
      })
      .immediate();
  }

  hasTile(scanId: string, phase: 'survey' | 'zoom', seq: number): boolean {
    return !!this.db.prepare('SELECT 1 FROM tiles WHERE scan_id = ? AND phase = ? AND seq = ?').get(scanId, phase, seq);
  }

  hasScan(id: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM scans WHERE id = ?').get(id);
  }

  hasModel(id: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM model_versions WHERE id = ?').get(id);
  }

  finishScan(id: string, status: 'completed' | 'aborted' | 'failed', summary?: unknown): void {
    this.db
      .prepare('UPDATE scans SET status = ?, finished_at = ?, summary = ? WHERE id = ?')
      .run(status, iso(), summary === undefined ? null : JSON.stringify(summary), id);
  }

  /** Scans a crash interrupted: what was recorded, so the scan engine can resume after the last complete tile. */
  unfinishedScans(): UnfinishedScan[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.sample_id AS sampleId, s.started_at AS startedAt,
                COALESCE((SELECT MAX(seq) FROM tiles WHERE scan_id = s.id AND phase = 'survey'), -1) AS survey,
                COALESCE((SELECT MAX(seq) FROM tiles WHERE scan_id = s.id AND phase = 'zoom'), -1) AS zoom,
                (SELECT COUNT(*) FROM tiles WHERE scan_id = s.id) AS tiles,
                (SELECT COUNT(*) FROM defects WHERE scan_id = s.id) AS defects
         FROM scans s WHERE s.status = 'running' ORDER BY s.started_at`,
      )
      .all() as Array<{ id: string; sampleId: string; startedAt: string; survey: number; zoom: number; tiles: number; defects: number }>;
    return rows.map((r) => ({
      id: r.id,
      sampleId: r.sampleId,
      startedAt: r.startedAt,
      lastSeq: { survey: r.survey, zoom: r.zoom },
      tiles: r.tiles,
      defects: r.defects,
    }));
  }

  markResumed(scanId: string): void {
    this.db.prepare('UPDATE scans SET resumed = resumed + 1 WHERE id = ?').run(scanId);
  }

  audit(e: AuditRecord): number {
    return Number(
      this.db
        .prepare('INSERT INTO audit (at, user, origin, via, action, subject, outcome, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(iso(), e.actor.user, e.actor.from, e.actor.via, e.action, e.subject ?? null, e.outcome, e.details ? JSON.stringify(e.details) : null)
        .lastInsertRowid,
    );
  }

  command(actor: Actor, command: string, args: unknown, outcome: string, detail?: string): void {
    this.db
      .prepare('INSERT INTO operator_commands (at, user, origin, via, command, args, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(iso(), actor.user, actor.from, actor.via, command, JSON.stringify(args ?? null), outcome, detail ?? null);
  }

  /** Audit rows not yet handed to the event sink, oldest first. */
  pendingAudit(limit = 100): AuditRow[] {
    return this.auditRows('WHERE published_at IS NULL ORDER BY id LIMIT ?', limit);
  }

  markAuditPublished(ids: number[]): void {
    const st = this.db.prepare('UPDATE audit SET published_at = ? WHERE id = ?');
    const at = iso();
    this.db.transaction(() => ids.forEach((id) => st.run(at, id)))();
  }

  recentAudit(limit = 50): AuditRow[] {
    return this.auditRows('ORDER BY id DESC LIMIT ?', limit);
  }

  private auditRows(tail: string, limit: number): AuditRow[] {
    const rows = this.db.prepare(`SELECT id, at, user, origin, via, action, subject, outcome, details FROM audit ${tail}`).all(limit) as Array<
      Omit<AuditRow, 'details'> & { details: string | null }
    >;
    return rows.map((r) => ({ ...r, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
  }

  /** Which sample, scan, tile, model version, calibration and image a defect came from. */
  provenance(defectUid: string): Record<string, unknown> | undefined {
    return this.db.prepare('SELECT * FROM defect_provenance WHERE defect_uid = ?').get(defectUid) as Record<string, unknown> | undefined;
  }

  defectsOfSample(sampleId: string): Array<Record<string, unknown>> {
    return this.db.prepare('SELECT * FROM defect_provenance WHERE sample_id = ? ORDER BY detected_at, defect_uid').all(sampleId) as Array<
      Record<string, unknown>
    >;
  }

  /**
   * A person's verdict on a defect, with who and when, and its audit row (published to the MES by the audit relay),
   * in one transaction. Refuses an unknown defect and a reclassification without a class.
   */
  reviewDefect(uid: string, review: DefectReview, actor: Actor): DefectReviewRow {
    if (review.verdict === 'reclassified' && !review.class) throw new Error('a reclassification needs the corrected class');
    return this.db
      .transaction(() => {
        const d = this.db.prepare('SELECT class FROM defects WHERE uid = ?').get(uid) as { class: string } | undefined;
        if (!d) throw Object.assign(new Error(`no defect ${uid} in the records`), { notFound: true });
        const at = iso();
        const cls = review.verdict === 'reclassified' ? review.class! : null;
        const id = Number(
          this.db
            .prepare('INSERT INTO defect_reviews (defect_uid, at, user, origin, verdict, class, note) VALUES (?, ?, ?, ?, ?, ?, ?)')
            .run(uid, at, actor.user, actor.from, review.verdict, cls, review.note ?? null).lastInsertRowid,
        );
        this.audit({
          action: 'defect.review',
          subject: uid,
          outcome: 'ok',
          actor,
          details: { verdict: review.verdict, modelClass: d.class, ...(cls ? { class: cls } : {}) },
        });
        return { id, defectUid: uid, at, user: actor.user, origin: actor.from, verdict: review.verdict, class: cls, note: review.note ?? null };
      })
      .immediate();
  }

  reviewsOf(uid: string): DefectReviewRow[] {
    return this.db
      .prepare('SELECT id, defect_uid AS defectUid, at, user, origin, verdict, class, note FROM defect_reviews WHERE defect_uid = ? ORDER BY id')
      .all(uid) as DefectReviewRow[];
  }
}
