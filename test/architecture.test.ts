/**
 * The layering of src/ (README, Architecture): each folder may import only the folders its row names, and the folders
 * form no cycle. A new upward import fails here; move the code down, or move the type to the port that owns it.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, fileImports, folderGraph, folderOf } from '../scripts/architecture/import-graph.js';

interface Rule {
  /** Folders this one may import from (itself always). */
  imports: string[];
  /** Of those, folders it may import types only from (ports, not adapters). */
  typesOnly?: string[];
}

// The ladder, bottom to top.
const RULES: Record<string, Rule> = {
  // 1. kernel: pure utilities with no product knowledge.
  kernel: { imports: [] },
  'exit-codes': { imports: [] },
  // 2. maths, dataset readers, the addon's face.
  geometry: { imports: ['kernel'] },
  datasets: { imports: ['kernel'] },
  native: { imports: ['kernel'] },
  // 3. device areas and service plumbing: each owns its port, types and adapters.
  ops: { imports: ['kernel', 'native'] },
  camera: { imports: ['kernel', 'native'] },
  stage: { imports: ['kernel'] },
  inference: { imports: ['kernel', 'geometry', 'native', 'datasets'] },
  publish: { imports: ['kernel'] },
  records: { imports: ['kernel', 'datasets'] },
  bundles: { imports: ['kernel', 'ops'] },
  // 4. the loop, written against ports only; offline scoring of models.
  scan: { imports: ['kernel', 'geometry', 'camera', 'stage'], typesOnly: ['camera', 'stage'] },
  eval: { imports: ['kernel', 'geometry', 'datasets', 'inference'] },
  // 5. the config schema (each area's section) and the appliance that joins the ports. config registers the
  //    twin's section schema, nothing else of the twin.
  // the local web page: serves what the scan's ports show and the records hold.
  web: { imports: ['kernel', 'ops', 'camera', 'stage', 'records', 'scan'], typesOnly: ['camera', 'stage', 'scan'] },
  config: { imports: ['kernel', 'ops', 'camera', 'stage', 'inference', 'publish', 'records', 'bundles', 'scan', 'sim', 'web'] },
  appliance: { imports: ['kernel', 'geometry', 'native', 'ops', 'camera', 'stage', 'inference', 'publish', 'records', 'bundles', 'scan', 'config', 'web'] },
  // 6. the twin (implements the ports), the composition root, the demo and the commands.
  sim: { imports: ['kernel', 'geometry', 'datasets', 'native', 'camera', 'stage', 'scan'] },
  demo: { imports: ['kernel', 'geometry', 'native', 'camera', 'stage', 'inference', 'scan', 'sim'] },
  app: { imports: ['kernel', 'exit-codes', 'ops', 'camera', 'stage', 'inference', 'publish', 'records', 'bundles', 'scan', 'config', 'appliance', 'sim'] },
  commands: {
    imports: [
      'kernel',
      'exit-codes',
      'datasets',
      'ops',
      'camera',
      'stage',
      'inference',
      'publish',
      'records',
      'bundles',
      'scan',
      'eval',
      'config',
      'appliance',
      'sim',
      'demo',
      'app',
      'web',
    ],
  },
  cli: { imports: ['kernel', 'exit-codes', 'commands'] },
};

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const imports = fileImports(root);

describe('architecture', () => {
  it('every src/ folder has a row in the table', () => {
    const folders = [...folderGraph(imports).keys()];
    expect(folders.filter((f) => !(f in RULES))).toEqual([]);
  });

  it('no file in src/ imports from outside src/ (scripts, tests)', () => {
    expect(imports.filter((i) => /^(scripts|test)\//.test(i.to)).map((i) => `${i.from} -> ${i.to}`)).toEqual([]);
  });

  it('every import between folders is in the table', () => {
    const bad: string[] = [];
    for (const i of imports) {
      if (!i.to.startsWith('src/')) continue;
      const from = folderOf(i.from);
      const to = folderOf(i.to);
      const rule = RULES[from];
      if (from === to || !rule) continue;
      if (!rule.imports.includes(to)) bad.push(`${i.from} -> ${i.to}: ${from} may not import ${to}`);
      else if (rule.typesOnly?.includes(to) && !i.typeOnly) bad.push(`${i.from} -> ${i.to}: ${from} may import only types from ${to}`);
    }
    expect(bad).toEqual([]);
  });

  it('the table itself is a ladder: no folder is allowed to import a folder that may import it back', () => {
    const graph = new Map(Object.entries(RULES).map(([f, r]) => [f, r.imports]));
    expect(cycles(graph)).toEqual([]);
  });

  it('the folders form no import cycle', () => {
    expect(cycles(folderGraph(imports))).toEqual([]);
  });

  it('finds an upward import and a cycle when there is one', () => {
    const up = [
      { from: 'src/kernel/a.ts', to: 'src/scan/b.ts', typeOnly: true },
      { from: 'src/scan/b.ts', to: 'src/kernel/a.ts', typeOnly: false },
    ];
    expect(cycles(folderGraph(up))).toEqual([['kernel', 'scan']]);
    expect(RULES.kernel!.imports.includes(folderOf(up[0]!.to))).toBe(false);
  });
});
