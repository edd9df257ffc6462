/**
 * `smartscope bench [area...]`: runs the benchmark npm scripts (`bench:<area>` in package.json) one after another and
 * collects the JSON object each prints as its last line. `--list` names them; `--json` prints {area: figures}.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../exit-codes.js';
import { packageRoot } from '../kernel/paths.js';

export function benchAreas(): string[] {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return Object.keys(pkg.scripts ?? {})
    .filter((s) => s.startsWith('bench:'))
    .map((s) => s.slice('bench:'.length))
    .sort();
}

/** Runs `npm run -s bench:<area>`; stderr passes through, stdout's last line must be JSON. */
function runBench(area: string, echo: boolean): Promise<{ ok: boolean; figures?: unknown; error?: string }> {
  return new Promise((resolve) => {
    const p = spawn('npm', ['run', '-s', `bench:${area}`], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (echo) process.stderr.write(d);
    });
    p.on('error', (e) => resolve({ ok: false, error: e.message }));
    p.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return resolve({ ok: false, error: `exit code ${code}` });
      try {
        resolve({ ok: true, figures: JSON.parse(last) });
      } catch {
        resolve({ ok: false, error: `last line is not JSON: ${last.slice(0, 120)}` });
      }
    });
  });
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .argument('[areas...]', 'areas to run (default: all)')
    .description('run the benchmarks (npm scripts bench:<area>) and collect their figures')
    .option('--list', 'list the areas')
    .option('--json', 'print {area: figures} (benchmark output goes to stderr)')
    .action(async (areas: string[], opts: { list?: boolean; json?: boolean }) => {
      const all = benchAreas();
      if (opts.list) {
        process.stdout.write(opts.json ? `${JSON.stringify(all)}\n` : `${all.join('\n')}\n`);
        return;
      }
      const unknown = areas.filter((a) => !all.includes(a));
      if (unknown.length) {
        process.stderr.write(`smartscope: no benchmark ${unknown.join(', ')} (have: ${all.join(', ')})\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      const chosen = areas.length ? areas : all;
      const results: Record<string, unknown> = {};
      let failed = false;
      for (const [i, a] of chosen.entries()) {
        process.stderr.write(`bench ${i + 1}/${chosen.length}: ${a}\n`);
        const r = await runBench(a, !opts.json);
        results[a] = r.ok ? r.figures : { error: r.error };
        failed ||= !r.ok;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      else for (const [a, f] of Object.entries(results)) process.stdout.write(`${a}: ${JSON.stringify(f)}\n`);
      process.exitCode = failed ? EXIT.failed : EXIT.ok;
    });
}
