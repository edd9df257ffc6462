/**
 * models/active.json: which installed version serves each role, the order they were activated in (for rollback) and
 * which versions were rejected. It is only ever replaced whole with write-fsync-rename-fsync, so after a power cut it
 * is either the old or the new file, never a mix.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../kernel/durable-fs.js';
import type { ModelRole } from './manifest.js';

export interface ActiveEntry {
  id: string;
  manifestSha256: string;
  activatedAt: string;
  /** "user (from)" of whoever activated it. */
  by: string;
  reason: string;
}

export interface ActiveState {
  format: 1;
  roles: Partial<Record<ModelRole, ActiveEntry>>;
  /** Per role, ids in order of their most recent activation, newest first. */
  history: Partial<Record<ModelRole, string[]>>;
  /** Versions rolled back away from: a rollback never returns to them (an explicit activate does). */
  rejected: string[];
}

export function emptyState(): ActiveState {
  return { format: 1, roles: {}, history: {}, rejected: [] };
}

/** Reads the state; a missing file is an empty state, an unreadable one is reported (and treated as empty). */
export function readState(path: string): { state: ActiveState; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), problem: `${path} cannot be read (${e.code ?? e.message})` };
  }
  try {
    const s = JSON.parse(text) as ActiveState;
    if (s.format !== 1 || typeof s.roles !== 'object' || typeof s.history !== 'object' || !Array.isArray(s.rejected)) throw new Error('unexpected layout');
    return { state: s };
  } catch (err) {
    return { state: emptyState(), problem: `${path} is damaged (${(err as Error).message})` };
  }
}

export function writeState(path: string, s: ActiveState): void {
  writeFileAtomic(path, `${JSON.stringify(s, null, 2)}\n`);
}

export function withActivation(s: ActiveState, role: ModelRole, entry: ActiveEntry, keepHistory: number): ActiveState {
  const history = [entry.id, ...(s.history[role] ?? []).filter((id) => id !== entry.id)].slice(0, Math.max(keepHistory, 2) * 4);
  return {
    format: 1,
    roles: { ...s.roles, [role]: entry },
    history: { ...s.history, [role]: history },
    rejected: s.rejected.filter((id) => id !== entry.id),
  };
}
