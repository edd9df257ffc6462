// Prints the import graph between src/ folders and any cycle in it: `node dist/scripts/folder-graph.js`.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { cycles, fileImports, folderGraph } from './architecture/import-graph.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), process.argv[2] ?? '../..');
const graph = folderGraph(fileImports(root));
for (const [folder, deps] of graph) console.log(`${folder.padEnd(10)} -> ${deps.join(', ') || '(nothing)'}`);
const found = cycles(graph);
console.log(found.length === 0 ? 'cycles: none' : `cycles: ${found.map((c) => c.join(' ')).join(' | ')}`);
