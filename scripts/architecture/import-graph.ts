// Import graph of src/: which file imports which, folded into folders (the first path segment under src/; a file
// directly in src/ is a node of its own, named without `.ts`). Used by the architecture test and scripts/folder-graph.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface FileImport {
  /** Importing file, relative to the repository root, with forward slashes. */
  from: string;
  /** Imported file, relative to the repository root (a .ts path), with forward slashes. */
  to: string;
  /** True when every imported name is a type (`import type`, `export type`). */
  typeOnly: boolean;
}

const IMPORT_RE = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"`;]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const posix = (p: string): string => p.split(sep).join('/');

/** Every relative import in the files under `srcDir`; `to` may lie outside src/ (the test refuses those). */
export function fileImports(rootDir: string, srcDir = join(rootDir, 'src')): FileImport[] {
  const out: FileImport[] = [];
  for (const file of listTs(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[3] ?? m[4];
      if (spec === undefined) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      out.push({ from: posix(relative(rootDir, file)), to: posix(relative(rootDir, target)), typeOnly: m[2] !== undefined });
    }
  }
  return out;
}

/** The folder of a src/ file: `src/scan/engine.ts` → `scan`, `src/app.ts` → `app`. */
export function folderOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
}

/** Folder → folders it imports (self-imports left out), sorted. */
export function folderGraph(imports: FileImport[]): Map<string, string[]> {
  const graph = new Map<string, Set<string>>();
  for (const i of imports) {
    if (!i.to.startsWith('src/')) continue;
    const a = folderOf(i.from);
    const b = folderOf(i.to);
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    if (a !== b) graph.get(a)!.add(b);
  }
  return new Map([...graph.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));
}

/** Strongly connected components with more than one folder (Tarjan): each one is an import cycle. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}
