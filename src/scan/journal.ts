/**
 * The scan journal: an append-only JSON-lines file per scan, each record fsync'd before the step it records counts as
 * done. After a crash or power cut the scan resumes from it at the next unfinished step: survey fields already taken
 * are not taken again, targets already confirmed are not visited again, and events already handed to the sink are not
 * handed again (ids of events are derived from the journal, so a step redone after a crash mid-step reproduces the
 * same ids, which the sink de-duplicates).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type ConfigIssue } from '../kernel/validate.js';
import type { ConfirmedDefect } from './ports.js';
import type { Recipe } from './recipe.js';
import type { ScanSummary } from './summary.js';
import type { Candidate } from './survey.js';
import type { Target } from './zoom.js';

export type JournalRecord =
  | {
      t: 'begin';
      at: string;
      job: { scanId: string; sampleId: string; lot: string; recipe: Recipe };
      calibrationVersion: string;
      models: { survey: string; zoom: string };
    }
  | { t: 'focus'; x: number; y: number; z: number; objective: string }
  | { t: 'tile'; index: number; pose: { x: number; y: number; z: number }; candidates: Candidate[]; discardedFrames: number }
  | { t: 'targets'; targets: Target[] }
  | {
      t: 'target';
      index: number;
      outcome: 'confirmed' | 'rejected' | 'skipped';
      reason?: string;
      defects: ConfirmedDefect[];
      fields: number;
      fieldCentres?: Array<[number, number]>;
    }
  | { t: 'published'; eventId: string }
  | { t: 'state'; state: string; reason?: string; at: string }
  | { t: 'time'; split: Record<string, number> }
  | { t: 'end'; summary: ScanSummary };

type Field = 'string' | 'number' | 'object' | 'objects';
/** The fields each record must have (a `?` suffix: may be left out), checked on every record read back. */
const SHAPES: Record<JournalRecord['t'], Record<string, Field | `${Field}?`>> = {
  begin: { at: 'string', job: 'object', calibrationVersion: 'string', models: 'object' },
  focus: { x: 'number', y: 'number', z: 'number', objective: 'string' },
  tile: { index: 'number', pose: 'object', candidates: 'objects', discardedFrames: 'number' },
  targets: { targets: 'objects' },
  target: { index: 'number', outcome: 'string', reason: 'string?', defects: 'objects', fields: 'number', fieldCentres: 'objects?' },
  published: { eventId: 'string' },
  state: { state: 'string', reason: 'string?', at: 'string' },
  time: { split: 'object' },
  end: { summary: 'object' },
};
const EXPECT: Record<Field, string> = {
  string: 'a string',
  number: 'a number',
  object: 'an object',
  objects: 'an array of objects or pairs',
};

function fits(v: unknown, f: Field): boolean {
  const isObj = (x: unknown): boolean => typeof x === 'object' && x !== null;
  switch (f) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'object':
      return isObj(v) && !Array.isArray(v);
    case 'objects':
      return Array.isArray(v) && v.every(isObj);
  }
}

/** The issues of one parsed journal line (empty when it is a well-formed record). */
export function journalRecordIssues(rec: unknown, where: string): ConfigIssue[] {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return [{ path: where, value: rec, expected: 'a journal record (an object)' }];
  const t = (rec as { t?: unknown }).t;
  const shape = typeof t === 'string' ? SHAPES[t as JournalRecord['t']] : undefined;
  if (!shape)
    return [
      {
        path: `${where}.t`,
        value: t,
        expected: `one of ${Object.keys(SHAPES)
          .map((k) => `"${k}"`)
          .join(', ')}`,
      },
    ];
  const issues: ConfigIssue[] = [];
  for (const [key, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const field = spec.replace('?', '') as Field;
    const v = (rec as Record<string, unknown>)[key];
    if (v === undefined && optional) continue;
    if (!fits(v, field)) issues.push({ path: `${where}.${key}`, value: v, expected: EXPECT[field] });
  }
  return issues;
}

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
    const { records, torn } = existsSync(this.path) ? parse(readFileSync(this.path, 'utf8'), this.path) : { records: [], torn: 0 };
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

/**
 * Records of a journal file. A line that is not JSON is a torn write (power cut) and is counted and dropped; a JSON
 * line that is not a well-formed record means the file was damaged or written by something else: refused, naming the
 * line, the field, the value and what was expected, rather than resumed from wrongly.
 */
function parse(text: string, path: string): { records: JournalRecord[]; torn: number } {
  const records: JournalRecord[] = [];
  const issues: ConfigIssue[] = [];
  let torn = 0;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      torn++;
      return;
    }
    const bad = journalRecordIssues(rec, `line ${i + 1}`);
    if (bad.length > 0) issues.push(...bad);
    else records.push(rec as JournalRecord);
  });
  if (issues.length > 0) throw new ConfigError(`scan journal ${path}`, issues);
  return { records, torn };
}
