/**
 * `smartscope records …`: traceability queries for technicians and LIMS scripts (read-only).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { EXIT } from '../exit-codes.js';
import { statePaths } from '../ops/state-paths.js';
import { Records } from '../records/records.js';
import { loadConfig } from './config.js';

function openReadonly(program: Command): Records {
  const path = statePaths(loadConfig(program).appliance.stateDir).recordsDb;
  if (!existsSync(path)) throw new Error(`no records database at ${path} yet`);
  return Records.open({ path, readonly: true });
}

function print(json: boolean | undefined, data: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text()}\n`);
}

const table = (rows: Array<Record<string, unknown>>): string =>
  rows.length === 0
    ? '(none)'
    : rows
        .map((r) =>
          Object.entries(r)
            .map(([k, v]) => `${k}=${v === null ? '' : String(v)}`)
            .join('  '),
        )
        .join('\n');

export function registerRecordsCommands(program: Command): void {
  const rec = program.command('records').description('traceability records: defects, samples, scans, audit trail');
  rec
    .command('defect')
    .argument('<uid>', 'defect id (from the MQTT defect event)')
    .description('which sample, scan, tile, model version, calibration and image a defect came from')
    .option('--json', 'print as JSON')
    .action((uid: string, opts: { json?: boolean }) => {
      const r = openReadonly(program);
      try {
        const p = r.provenance(uid);
        if (!p) {
          process.stderr.write(`smartscope: no defect ${uid} in the records\n`);
          process.exitCode = EXIT.failed;
          return;
        }
        print(opts.json, p, () => table([p]).split('  ').join('\n'));
      } finally {
        r.close();
      }
    });
  rec
    .command('sample')
    .argument('<id>', 'sample id')
    .description('every defect found on a sample, with model and calibration')
    .option('--json', 'print as JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const r = openReadonly(program);
      try {
        const rows = r.defectsOfSample(id);
        print(opts.json, rows, () =>
          table(
            rows.map((d) => ({
              defect: d.defect_uid,
              class: d.class,
              x_um: d.x_um,
              y_um: d.y_um,
              model: d.model_id,
              calibration: d.calibration_id,
              scan: d.scan_id,
            })),
          ),
        );
      } finally {
        r.close();
      }
    });
  rec
    .command('scans')
    .description('scans interrupted by a crash or power cut (resumed by the scan engine)')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const r = openReadonly(program);
      try {
        const rows = r.unfinishedScans();
        print(opts.json, rows, () => table(rows.map((s) => ({ scan: s.id, sample: s.sampleId, started: s.startedAt, tiles: s.tiles, defects: s.defects }))));
      } finally {
        r.close();
      }
    });
  rec
    .command('audit')
    .description('who did what, when and from where (model installs, activations, rollbacks, ...), newest first')
    .option('--limit <n>', 'rows', '50')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean; limit: string }) => {
      const r = openReadonly(program);
      try {
        const rows = r.recentAudit(Math.max(1, Number(opts.limit) || 50));
        print(
          opts.json,
          rows,
          () =>
            rows
              .map((a) => `${a.at}  ${a.user.padEnd(10)} ${a.origin.padEnd(18)} ${a.action.padEnd(22)} ${a.outcome.padEnd(8)} ${a.subject ?? ''}`)
              .join('\n') || '(none)',
        );
      } finally {
        r.close();
      }
    });
  rec
    .command('check')
    .description('integrity and foreign-key check of the records database (exit 1 on problems)')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const r = openReadonly(program);
      try {
        const problems = r.integrityProblems();
        print(opts.json, { ok: problems.length === 0, problems }, () => (problems.length ? problems.join('\n') : 'ok'));
        process.exitCode = problems.length ? EXIT.failed : EXIT.ok;
      } finally {
        r.close();
      }
    });
}
