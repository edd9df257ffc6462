// Prints the import graph between src/ folders and any cycle in it: `npx tsx scripts/folder-graph.ts [repo]`.
import { resolve } from 'node:path';
import { packageRoot } from '../src/kernel/paths.js';
import { cycles, fileImports, folderGraph } from './architecture/import-graph.js';

const root = process.argv[2] ? resolve(process.argv[2]) : packageRoot();
const graph = folderGraph(fileImports(root));
for (const [folder, deps] of graph) console.log(`${folder.padEnd(10)} -> ${deps.join(', ') || '(nothing)'}`);
const found = cycles(graph);
console.log(found.length === 0 ? 'cycles: none' : `cycles: ${found.map((c) => c.join(' ')).join(' | ')}`);
