/**
 * The records database schema, applied by numbered migrations (PRAGMA user_version). A migration runs in one
 * transaction, so a crash during an upgrade leaves the previous version intact.
 *
 * Traceability is by foreign keys: a defect points at its scan, tile, image, model version and calibration; a scan
 * points at its sample and at the model versions and calibration it started with. The view `defect_provenance`
 * joins them for LIMS queries (docs/appliance.md).
 */
export const MIGRATIONS: string[] = [
  // 1: initial schema
  `
  CREATE TABLE samples (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    description TEXT,
    meta TEXT
  );
  CREATE TABLE calibrations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    objective TEXT,
    sha256 TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE TABLE model_versions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    key_id TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
  );
  CREATE TABLE scans (
    id TEXT PRIMARY KEY,
    sample_id TEXT NOT NULL REFERENCES samples(id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'aborted', 'failed')),
    device TEXT NOT NULL,
    software_version TEXT NOT NULL,
    recipe TEXT,
    calibration_id TEXT REFERENCES calibrations(id),
    survey_model_id TEXT REFERENCES model_versions(id),
    zoom_model_id TEXT REFERENCES model_versions(id),
    resumed INTEGER NOT NULL DEFAULT 0,
    summary TEXT
  );
  CREATE INDEX scans_sample ON scans(sample_id);
  CREATE INDEX scans_started ON scans(started_at);
  CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    format TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at TEXT NOT NULL,
    deleted_at TEXT
  );
  CREATE INDEX images_live_age ON images(created_at) WHERE deleted_at IS NULL;
  CREATE TABLE tiles (
    id INTEGER PRIMARY KEY,
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    phase TEXT NOT NULL CHECK (phase IN ('survey', 'zoom')),
    seq INTEGER NOT NULL,
    x_um REAL NOT NULL,
    y_um REAL NOT NULL,
    z_um REAL,
    objective TEXT,
    focus REAL,
    captured_at TEXT NOT NULL,
    image_id INTEGER REFERENCES images(id),
    model_id TEXT REFERENCES model_versions(id),
    detections INTEGER NOT NULL DEFAULT 0,
    UNIQUE (scan_id, phase, seq)
  );
  CREATE TABLE defects (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    tile_id INTEGER REFERENCES tiles(id) ON DELETE CASCADE,
    class TEXT NOT NULL,
    confidence REAL NOT NULL,
    x_um REAL NOT NULL,
    y_um REAL NOT NULL,
    width_um REAL,
    height_um REAL,
    area_um2 REAL,
    model_id TEXT REFERENCES model_versions(id),
    calibration_id TEXT REFERENCES calibrations(id),
    image_id INTEGER REFERENCES images(id),
    created_at TEXT NOT NULL
  );
  CREATE INDEX defects_scan ON defects(scan_id);
  CREATE INDEX defects_tile ON defects(tile_id);
  CREATE TABLE operator_commands (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    origin TEXT NOT NULL,
    via TEXT NOT NULL,
    command TEXT NOT NULL,
    args TEXT,
    outcome TEXT NOT NULL,
    detail TEXT
  );
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    origin TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    outcome TEXT NOT NULL,
    details TEXT,
    published_at TEXT
  );
  CREATE INDEX audit_unpublished ON audit(id) WHERE published_at IS NULL;
  CREATE VIEW defect_provenance AS
    SELECT d.uid AS defect_uid, d.class, d.confidence, d.x_um, d.y_um, d.width_um, d.height_um, d.area_um2,
           d.created_at AS detected_at,
           s.id AS sample_id, sc.id AS scan_id, sc.started_at AS scan_started_at, sc.device, sc.software_version,
           t.phase, t.seq AS tile_seq, t.objective, t.x_um AS tile_x_um, t.y_um AS tile_y_um,
           m.id AS model_id, m.manifest_sha256 AS model_manifest_sha256, m.key_id AS model_key_id,
           c.id AS calibration_id, c.sha256 AS calibration_sha256,
           i.sha256 AS image_sha256, i.path AS image_path, i.deleted_at AS image_deleted_at
    FROM defects d
    JOIN scans sc ON sc.id = d.scan_id
    JOIN samples s ON s.id = sc.sample_id
    LEFT JOIN tiles t ON t.id = d.tile_id
    LEFT JOIN model_versions m ON m.id = d.model_id
    LEFT JOIN calibrations c ON c.id = d.calibration_id
    LEFT JOIN images i ON i.id = d.image_id;
  `,
  // 2: reviews of defects by QC engineers (the web page's Review), kept beside the model's verdict
  `
  CREATE TABLE defect_reviews (
    id INTEGER PRIMARY KEY,
    defect_uid TEXT NOT NULL REFERENCES defects(uid) ON DELETE CASCADE,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    origin TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'false', 'reclassified')),
    class TEXT,
    note TEXT
  );
  CREATE INDEX defect_reviews_defect ON defect_reviews(defect_uid);
  -- Where the defect lies in its crop (JSON: bitDepth, bboxPx, contourPx), so a review can become a labelled mask.
  ALTER TABLE defects ADD COLUMN outline TEXT;
  `,
];
