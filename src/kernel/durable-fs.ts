/**
 * File operations that survive a power cut: data is fsynced before it is renamed into place, and the directory is
 * fsynced after every rename/unlink so the new name itself is durable (rename(2) alone only orders the metadata in
 * the page cache; see the ext4 `auto_da_alloc` notes in Documentation/admin-guide/ext4.rst and POSIX fsync()).
 *
 * Every mutation passes a crash point. The power-cut tests set SMARTSCOPE_CRASH_AT=k to have the process SIGKILL
 * itself at the k-th crash point (SMARTSCOPE_CRASH_TRACE=1 lists them on stderr), so each step of an install can be
 * interrupted deterministically; in production both variables are unset and a crash point costs one comparison.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync, type PathLike } from 'node:fs';
import { dirname, join } from 'node:path';

const crashAt = Number(process.env.SMARTSCOPE_CRASH_AT ?? 0);
const trace = process.env.SMARTSCOPE_CRASH_TRACE === '1';
let crashCount = 0;

/** Marks a point where a power cut may happen. */
export function crashpoint(label: string): void {
  if (crashAt <= 0 && !trace) return;
  crashCount++;
  if (trace) process.stderr.write(`crashpoint ${crashCount} ${label}\n`);
  if (crashCount === crashAt) process.kill(process.pid, 'SIGKILL');
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p, fsyncing each parent whose entry list changed. */
export function mkdirDurable(dir: string): void {
  const created = mkdirSync(dir, { recursive: true });
  if (created === undefined) return;
  crashpoint(`mkdir ${dir}`);
  // Everything from `created` down was new: fsync the parent of each new directory.
  let d = dir;
  const chain: string[] = [];
  while (d.length >= created.length) {
    chain.push(dirname(d));
    if (d === created) break;
    d = dirname(d);
  }
  for (const p of chain) fsyncDir(p);
}

/** Writes `data` to `path` (creating or truncating it) in chunks and fsyncs it. The name is NOT made durable. */
export function writeFileSynced(path: string, data: Uint8Array | string, mode = 0o644): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = openSync(path, 'w', mode);
  try {
    const chunk = 1 << 20;
    for (let off = 0; off < buf.length || off === 0; off += chunk) {
      crashpoint(`write ${path}@${off}`);
      const end = Math.min(buf.length, off + chunk);
      let done = off;
      while (done < end) done += writeSync(fd, buf, done, end - done);
      if (buf.length === 0) break;
    }
    crashpoint(`fsync ${path}`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically: write a temporary sibling, fsync it, rename over, fsync the directory. */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSynced(tmp, data, mode);
  renameDurable(tmp, path);
}

/** rename(2) followed by fsync of the directories involved. */
export function renameDurable(from: string, to: string): void {
  crashpoint(`rename ${from} -> ${to}`);
  renameSync(from, to);
  crashpoint(`renamed ${to}, directory not yet synced`);
  fsyncDir(dirname(to));
  if (dirname(from) !== dirname(to)) fsyncDir(dirname(from));
}

export function unlinkDurable(path: string): void {
  crashpoint(`unlink ${path}`);
  unlinkSync(path);
  fsyncDir(dirname(path));
}

export function symlinkDurable(target: string, path: string): void {
  crashpoint(`symlink ${path}`);
  symlinkSync(target, path);
  fsyncDir(dirname(path));
}

/** Removes a tree. Not atomic: callers first rename the tree into a trash folder, then remove it from there. */
export function removeTree(path: PathLike): void {
  crashpoint(`rm ${String(path)}`);
  rmSync(path, { recursive: true, force: true });
}

/** Fsyncs every file and directory under `dir` (after a tree was written with plain writes). */
export function fsyncTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) {
      const fd = openSync(p, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}
