/**
 * A bundle as handed over by a technician: a folder (manifest.json, manifest.sig, model and golden files) or the same
 * files in a single .tar. Either way it is read into memory once, so what is verified is exactly what is installed.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MANIFEST_FILE } from './manifest.js';
import { readTar } from './tar.js';

export interface BundleSource {
  /** Where it came from (path of the folder or archive). */
  origin: string;
  files: Map<string, Buffer>;
}

/** Largest bundle accepted (a model plus its golden set). */
export const MAX_BUNDLE_BYTES = 1 << 30;

export function readBundle(path: string): BundleSource {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read bundle ${path} (${e.code ?? e.message})`);
  }
  const files = new Map<string, Buffer>();
  if (st.isDirectory()) {
    let total = 0;
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          const data = readFileSync(p);
          total += data.length;
          if (total > MAX_BUNDLE_BYTES) throw new Error(`bundle ${path} is larger than ${MAX_BUNDLE_BYTES >> 20} MiB`);
          files.set(relative(path, p).split('\\').join('/'), data);
        } else throw new Error(`bundle ${path}: ${relative(path, p)} is not a regular file; bundles hold plain files only`);
      }
    };
    walk(path);
  } else if (st.isFile()) {
    if (st.size > MAX_BUNDLE_BYTES) throw new Error(`bundle ${path} is larger than ${MAX_BUNDLE_BYTES >> 20} MiB`);
    for (const e of readTar(readFileSync(path), path)) files.set(e.path, e.data);
    stripSingleTopFolder(files);
  } else {
    throw new Error(`bundle ${path} is neither a folder nor a .tar file`);
  }
  return { origin: path, files };
}

/** `tar cf b.tar mybundle/` puts everything under mybundle/: accept that layout too. */
function stripSingleTopFolder(files: Map<string, Buffer>): void {
  if (files.has(MANIFEST_FILE) || files.size === 0) return;
  const tops = new Set([...files.keys()].map((p) => p.split('/')[0]));
  if (tops.size !== 1) return;
  const top = [...tops][0]!;
  if (!files.has(`${top}/${MANIFEST_FILE}`)) return;
  const moved = [...files.entries()].map(([p, d]) => [p.slice(top.length + 1), d] as const);
  files.clear();
  for (const [p, d] of moved) files.set(p, d);
}
