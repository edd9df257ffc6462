/**
 * The outbox's image files: one file per blob in `<dir>/blobs/`, named by its topic with `/` → `~`, written to a
 * temporary name, fsync'd and renamed into place (then the directory fsync'd), so a record on disk never names a
 * blob that is not complete on disk. Kept in write order, oldest first, for the cap policy.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { NewBlob } from './store.js';

const fileOf = (topic: string): string => topic.replace(/\//g, '~');

export class BlobDir {
  /** topic → file name and size, oldest first. */
  private readonly entries = new Map<string, { file: string; bytes: number }>();

  constructor(readonly dir: string) {}

  /** Loads what is on disk; deletes temporary files and blobs `needed` rejects. Returns the number deleted. */
  async recover(needed: (topic: string) => boolean): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const files = await readdir(this.dir);
    const withTime = await Promise.all(files.map(async (f) => ({ f, st: await stat(join(this.dir, f)) })));
    withTime.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs);
    let orphans = 0;
    for (const { f, st } of withTime) {
      const topic = f.replace(/~/g, '/');
      if (f.endsWith('.tmp') || !needed(topic)) {
        await unlink(join(this.dir, f));
        if (!f.endsWith('.tmp')) orphans++;
        continue;
      }
      this.entries.set(topic, { file: f, bytes: st.size });
    }
    return orphans;
  }

  has(topic: string): boolean {
    return this.entries.has(topic);
  }

  bytesOf(topic: string): number {
    return this.entries.get(topic)?.bytes ?? 0;
  }

  /** Stored blobs, oldest first. */
  list(): Array<{ id: string; bytes: number }> {
    return [...this.entries].map(([id, b]) => ({ id, bytes: b.bytes }));
  }

  topics(): string[] {
    return [...this.entries.keys()];
  }

  totalBytes(): number {
    let n = 0;
    for (const b of this.entries.values()) n += b.bytes;
    return n;
  }

  /** Writes the blobs durably (see the file comment). */
  async writeAll(blobs: Iterable<NewBlob>): Promise<void> {
    let any = false;
    for (const b of blobs) {
      const file = fileOf(b.topic);
      const tmp = join(this.dir, `${file}.tmp`);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(b.bytes);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, file));
      this.entries.set(b.topic, { file, bytes: b.bytes.length });
      any = true;
    }
    if (any) await fsyncDir(this.dir);
  }

  /** The bytes, or undefined when the blob is gone. */
  async read(topic: string): Promise<Buffer | undefined> {
    const b = this.entries.get(topic);
    if (!b) return undefined;
    try {
      return await readFile(join(this.dir, b.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async remove(topic: string): Promise<void> {
    const b = this.entries.get(topic);
    if (!b) return;
    this.entries.delete(topic);
    await rm(join(this.dir, b.file), { force: true });
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
