/**
 * The scan journal: an append-only JSON-lines file per scan, each record fsync'd before the step it records counts as
 * done. After a crash or power cut the scan resumes from it at the next unfinished step: survey fields already taken
 * are not taken again, targets already confirmed are not visited again, and events already handed to the sink are not
 * handed again (ids of events are derived from the journal, so a step redone after a crash mid-step reproduces the
 * same ids, which the sink de-duplicates).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export type JournalRecord =
  | { t: 'begin'; at: string; job: unknown; calibrationVersion: string; models: { survey: string; zoom: string } }
  | { t: 'focus'; x: number; y: number; z: number; objective: string }
  | { t: 'tile'; index: number; pose: { x: number; y: number; z: number }; candidates: unknown[]; discardedFrames: number }
  | { t: 'targets'; targets: unknown[] }
  | {
      t: 'target';
      index: number;
      outcome: 'confirmed' | 'rejected' | 'skipped';
      reason?: string;
      defects: unknown[];
      fields: number;
      fieldCentres?: Array<[number, number]>;
    }
  | { t: 'published'; eventId: string }
  | { t: 'state'; state: string; reason?: string; at: string }
  | { t: 'time'; split: Record<string, number> }
  | { t: 'end'; summary: unknown };

export class ScanJournal {
  private fd: number | null = null;
  readonly path: string;
  /** Records read back when the journal was opened (empty for a new scan). */
  readonly replayed: JournalRecord[];
  /** Lines that could not be parsed (a torn last write after a power cut is expected and dropped). */
  readonly torn: number;

  constructor(dir: string, scanId: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${scanId}.jsonl`);
    const { records, torn } = existsSync(this.path) ? parse(readFileSync(this.path, 'utf8')) : { records: [], torn: 0 };
    this.replayed = records;
    this.torn = torn;
    this.fd = openSync(this.path, 'a');
    if (torn > 0) {
      // Terminate the torn line so the next record starts on its own line.
      writeSync(this.fd, '\n');
      fsyncSync(this.fd);
    }
  }

  get finished(): boolean {
    return this.replayed.some((r) => r.t === 'end');
  }

  append(rec: JournalRecord): void {
    if (this.fd === null) throw new Error(`scan journal ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

function parse(text: string): { records: JournalRecord[]; torn: number } {
  const records: JournalRecord[] = [];
  let torn = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch {
      torn++;
    }
  }
  return { records, torn };
}
