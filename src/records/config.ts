/**
 * Config section `records`: the SQLite records and the images kept beside them, and how long both are kept.
 */
import { int, num, obj, type Schema } from '../kernel/schema-kit.js';

export const recordsSchema: Schema = obj('Traceability records (SQLite in the state folder) and stored images.', {
  busyTimeoutMs: int('How long a writer waits for another process holding the database (e.g. a CLI command) before failing.', 5000, 100, 60_000, 'ms'),
  retention: obj('What is deleted, oldest first, and when. Defect, scan and model records outlive their images.', {
    intervalMin: num('How often retention runs.', 10, 1, 1440, 'min'),
    recordsMaxAgeDays: int('Scans (with their tiles and defects) older than this are deleted.', 730, 1, 36_500, 'days'),
    imagesMaxAgeDays: int('Images older than this are deleted (their records stay, marked as deleted).', 90, 1, 36_500, 'days'),
    imagesMaxMb: int('Largest total size of stored images; the oldest go first when it is exceeded.', 20_480, 1, 10_000_000, 'MiB'),
    minFreeMb: int('Oldest images are deleted while the state volume has less free space than this.', 1024, 0, 10_000_000, 'MiB'),
  }),
});

export interface RetentionConfig {
  intervalMin: number;
  recordsMaxAgeDays: number;
  imagesMaxAgeDays: number;
  imagesMaxMb: number;
  minFreeMb: number;
}

export interface RecordsConfig {
  busyTimeoutMs: number;
  retention: RetentionConfig;
}
