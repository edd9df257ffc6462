/** Runs the built CLI (dist/, made by `npm test`'s bootstrap or `npx tsc`) as a child process. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliJs = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

function ensureBuilt(): void {
  if (!existsSync(cliJs)) throw new Error(`${cliJs} is missing: build with \`npx tsc -p tsconfig.json\` (npm test does it)`);
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  ensureBuilt();
  return spawnSync(process.execPath, [cliJs, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: repoRoot, timeout: 120_000 });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  ensureBuilt();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliJs, ...args], { env: { ...process.env, ...env }, cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** mulberry32: a small seeded PRNG so a failing run can be repeated with the printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
