/**
 * Images kept beside the records, content-addressed: <dir>/<sha[0..2]>/<sha>.<ext>. The file is written and fsynced
 * under a temporary name, renamed into place, and only then recorded, so a record never points at a missing or
 * partial image. Retention deletes files (oldest first) but keeps their rows, marked deleted, for traceability.
 */
import { createHash } from 'node:crypto';
import { existsSync, statfsSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirDurable, writeFileAtomic } from '../kernel/durable-fs.js';
import type { RetentionConfig } from './config.js';
import type { Records } from './records.js';

export interface StoredImage {
  id: number;
  sha256: string;
  path: string;
  bytes: number;
}

export interface RetentionReport {
  imagesDeleted: number;
  bytesFreed: number;
  scansDeleted: number;
  /** Why images went: age, quota, disk. */
  reasons: Record<'age' | 'quota' | 'disk', number>;
}

export class ImageStore {
  constructor(
    readonly dir: string,
    private readonly records: Records,
  ) {}

  put(data: Uint8Array, meta: { format: 'jpeg' | 'png' | 'tiff' | 'raw'; width?: number; height?: number }): StoredImage {
    const sha = createHash('sha256').update(data).digest('hex');
    const existing = this.records.db.prepare('SELECT id, sha256, path, bytes, deleted_at FROM images WHERE sha256 = ?').get(sha) as
      (StoredImage & { deleted_at: string | null }) | undefined;
    const ext = meta.format === 'jpeg' ? 'jpg' : meta.format;
    const path = join(this.dir, sha.slice(0, 2), `${sha}.${ext}`);
    if (existing && existing.deleted_at === null && existsSync(existing.path))
      return { id: existing.id, sha256: sha, path: existing.path, bytes: existing.bytes };
    mkdirDurable(dirname(path));
    writeFileAtomic(path, data);
    if (existing) {
      this.records.db.prepare('UPDATE images SET deleted_at = NULL, path = ? WHERE id = ?').run(path, existing.id);
      return { id: existing.id, sha256: sha, path, bytes: data.length };
    }
    const id = Number(
      this.records.db
        .prepare('INSERT INTO images (sha256, path, bytes, format, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(sha, path, data.length, meta.format, meta.width ?? null, meta.height ?? null, new Date().toISOString()).lastInsertRowid,
    );
    return { id, sha256: sha, path, bytes: data.length };
  }

  liveBytes(): number {
    return (this.records.db.prepare('SELECT COALESCE(SUM(bytes), 0) AS b FROM images WHERE deleted_at IS NULL').get() as { b: number }).b;
  }

  /** Free bytes on the volume holding the images. */
  freeBytes(): number {
    mkdirDurable(this.dir);
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  /**
   * Applies the retention policy: images past their age, then the oldest images while over the size quota or while
   * the disk is short of free space; then scans (with tiles and defects) past the records age.
   */
  applyRetention(policy: RetentionConfig, now = new Date(), freeBytes: () => number = () => this.freeBytes()): RetentionReport {
    const report: RetentionReport = { imagesDeleted: 0, bytesFreed: 0, scansDeleted: 0, reasons: { age: 0, quota: 0, disk: 0 } };
    const db = this.records.db;
    const oldest = db.prepare('SELECT id, path, bytes, created_at FROM images WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT ?');
    const mark = db.prepare('UPDATE images SET deleted_at = ? WHERE id = ?');
    const drop = (rows: Array<{ id: number; path: string; bytes: number }>, reason: keyof RetentionReport['reasons']): void => {
      for (const r of rows) {
        try {
          unlinkSync(r.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        mark.run(now.toISOString(), r.id);
        report.imagesDeleted++;
        report.bytesFreed += r.bytes;
        report.reasons[reason]++;
      }
    };
    const ageCut = new Date(now.getTime() - policy.imagesMaxAgeDays * 86_400_000).toISOString();
    for (;;) {
      const rows = (oldest.all(200) as Array<{ id: number; path: string; bytes: number; created_at: string }>).filter((r) => r.created_at < ageCut);
      if (rows.length === 0) break;
      drop(rows, 'age');
    }
    const quota = policy.imagesMaxMb * 1024 * 1024;
    let live = this.liveBytes();
    while (live > quota) {
      const rows = oldest.all(50) as Array<{ id: number; path: string; bytes: number }>;
      if (rows.length === 0) break;
      const batch: typeof rows = [];
      for (const r of rows) {
        if (live <= quota) break;
        batch.push(r);
        live -= r.bytes;
      }
      drop(batch, 'quota');
    }
    const minFree = policy.minFreeMb * 1024 * 1024;
    while (freeBytes() < minFree) {
      const rows = oldest.all(20) as Array<{ id: number; path: string; bytes: number }>;
      if (rows.length === 0) break;
      drop(rows, 'disk');
    }
    const scanCut = new Date(now.getTime() - policy.recordsMaxAgeDays * 86_400_000).toISOString();
    report.scansDeleted = db.prepare("DELETE FROM scans WHERE status != 'running' AND started_at < ?").run(scanCut).changes;
    return report;
  }
}
