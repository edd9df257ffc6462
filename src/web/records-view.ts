/**
 * What the web page reads from the records database: past scans (history), a scan's defects (gallery), one defect
 * with its provenance and reviews, and the stored image a record points at. Read-only queries; paths come from the
 * records, never from the request, and are checked to lie inside the folders the page may serve.
 */
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import type { Records } from '../records/records.js';

export interface ScanRow {
  id: string;
  sampleId: string;
  lot: string | null;
  recipeId: string | null;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  defects: number;
  summary: Record<string, unknown> | null;
}

const json = (s: string | null): Record<string, unknown> | null => {
  if (!s) return null;
  try {
    return JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
};

export function listScans(r: Records, filter: { sample?: string; lot?: string; recipe?: string }, limit = 100): ScanRow[] {
  const rows = r.db
    .prepare(
      `SELECT sc.id, sc.sample_id AS sampleId, json_extract(sa.meta, '$.lot') AS lot, json_extract(sc.recipe, '$.id') AS recipeId,
              sc.started_at AS startedAt, sc.finished_at AS finishedAt, sc.status, sc.summary,
              (SELECT COUNT(*) FROM defects d WHERE d.scan_id = sc.id) AS defects
       FROM scans sc JOIN samples sa ON sa.id = sc.sample_id
       WHERE (@sample IS NULL OR sc.sample_id = @sample) AND (@lot IS NULL OR json_extract(sa.meta, '$.lot') = @lot)
         AND (@recipe IS NULL OR json_extract(sc.recipe, '$.id') = @recipe)
       ORDER BY sc.started_at DESC LIMIT @limit`,
    )
    .all({ sample: filter.sample ?? null, lot: filter.lot ?? null, recipe: filter.recipe ?? null, limit }) as Array<
    Omit<ScanRow, 'summary'> & { summary: string | null }
  >;
  return rows.map((x) => ({ ...x, summary: json(x.summary) }));
}

export function scanDefects(r: Records, scanId: string): Array<Record<string, unknown>> {
  return r.db
    .prepare(
      `SELECT d.uid, d.class, d.confidence, d.x_um AS xUm, d.y_um AS yUm, d.width_um AS widthUm, d.height_um AS heightUm, d.area_um2 AS areaUm2,
              d.image_id AS imageId, d.created_at AS detectedAt,
              (SELECT verdict FROM defect_reviews v WHERE v.defect_uid = d.uid ORDER BY v.id DESC LIMIT 1) AS review,
              (SELECT class FROM defect_reviews v WHERE v.defect_uid = d.uid ORDER BY v.id DESC LIMIT 1) AS reviewClass
       FROM defects d WHERE d.scan_id = ? ORDER BY d.id`,
    )
    .all(scanId) as Array<Record<string, unknown>>;
}

export function scanRow(r: Records, scanId: string): ScanRow | null {
  const row = r.db
    .prepare(
      `SELECT sc.id, sc.sample_id AS sampleId, json_extract(sa.meta, '$.lot') AS lot, json_extract(sc.recipe, '$.id') AS recipeId,
              sc.started_at AS startedAt, sc.finished_at AS finishedAt, sc.status, sc.summary,
              (SELECT COUNT(*) FROM defects d WHERE d.scan_id = sc.id) AS defects
       FROM scans sc JOIN samples sa ON sa.id = sc.sample_id WHERE sc.id = ?`,
    )
    .get(scanId) as (Omit<ScanRow, 'summary'> & { summary: string | null }) | undefined;
  return row ? { ...row, summary: json(row.summary) } : null;
}

export function defectDetail(r: Records, uid: string): Record<string, unknown> | null {
  const p = r.provenance(uid);
  if (!p) return null;
  const d = r.db.prepare('SELECT image_id AS imageId, outline FROM defects WHERE uid = ?').get(uid) as { imageId: number | null; outline: string | null };
  // The image's file path stays on the appliance: the page gets the image through /api/images/<id>.
  const { image_path: _path, ...rest } = p;
  return { ...rest, imageId: d.imageId, outline: d.outline, reviews: r.reviewsOf(uid) };
}

export interface ImageRow {
  path: string;
  format: string;
  width: number | null;
  height: number | null;
  bytes: number;
  deletedAt: string | null;
}

export function imageRow(r: Records, id: number): ImageRow | null {
  return (r.db.prepare('SELECT path, format, width, height, bytes, deleted_at AS deletedAt FROM images WHERE id = ?').get(id) as ImageRow | undefined) ?? null;
}

/** The real path of `path` when it lies inside one of `roots` (symbolic links resolved), else null. */
export function inside(path: string, roots: readonly string[]): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return null;
  }
  for (const root of roots) {
    let r: string;
    try {
      r = realpathSync(root);
    } catch {
      continue;
    }
    if (real.startsWith(r.endsWith(sep) ? r : r + sep)) return real;
  }
  return null;
}
