/**
 * `smartscope scan …`: queue samples and control the scan in the running daemon (its control socket, the same
 * commands the MES sends over MQTT), and `smartscope calibrate`: measure the pixel ↔ stage calibration.
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { measureCalibration } from '../app.js';
import { EXIT } from '../exit-codes.js';
import { currentActor } from '../kernel/actor.js';
import { controlRequest } from '../ops/control-socket.js';
import { createLogger } from '../kernel/logger.js';
import { statePaths } from '../ops/state-paths.js';
import { Records } from '../records/records.js';
import { saveCalibration } from '../scan/calibration.js';
import type { BatchJob } from '../scan/batch.js';
import type { ScanStatus } from '../scan/service.js';
import { actAsStateOwner } from './appliance-context.js';
import { loadConfig } from './config.js';

const job = (j: BatchJob | null): string =>
  j ? `${j.scanId}  sample ${j.sampleId}  lot ${j.lot}  recipe ${j.recipeId}  ${j.state}${j.result ? `  ${j.result}` : ''}` : '-';

function statusText(s: ScanStatus): string {
  const lines = [
    `state    ${s.state}${s.reason ? ` (${s.reason})` : ''}`,
    `current  ${job(s.current)}`,
    `last     ${job(s.last)}`,
    `queued   ${s.queued.length}`,
  ];
  for (const q of s.queued) lines.push(`  ${job(q)}`);
  return lines.join('\n');
}

export function registerScanCommands(program: Command): void {
  const scan = program.command('scan').description('queue samples and control the scan of the running daemon (local control socket)');
  const send = async (command: string, args: Record<string, unknown>, json: boolean | undefined, text: (d: unknown) => string): Promise<void> => {
    const socket = statePaths(loadConfig(program).appliance.stateDir).controlSocket;
    const r = await controlRequest(socket, command, args, currentActor());
    if (r.status !== 'ok') {
      if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
      process.stderr.write(`smartscope: ${r.error}\n`);
      process.exitCode = EXIT.failed;
      return;
    }
    process.stdout.write(json ? `${JSON.stringify(r.data)}\n` : `${text(r.data)}\n`);
  };
  scan
    .command('enqueue')
    .description('add a sample to the queue; the daemon scans queued samples in order')
    .requiredOption('--sample <id>', 'sample id (1–64 of A–Z a–z 0–9 . _ : -)')
    .option('--lot <id>', 'lot id', '-')
    .option('--recipe <id>', 'recipe id: <scan.recipesDir>/<id>.yaml ("twin": the whole twin sample)', 'twin')
    .option('--json', 'print the queued job as JSON')
    .action((o: { sample: string; lot: string; recipe: string; json?: boolean }) =>
      send('scan-enqueue', { sampleId: o.sample, lot: o.lot, recipe: o.recipe }, o.json, (d) => `queued ${job(d as BatchJob)}`),
    );
  scan
    .command('status')
    .description('the scan running now, the queue and the last result')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => send('scan-status', {}, o.json, (d) => statusText(d as ScanStatus)));
  for (const [name, what] of [
    ['pause', 'pause the running scan after its current step'],
    ['resume', 'resume a paused (or faulted, once the device is back) scan'],
  ] as const) {
    scan
      .command(name)
      .description(what)
      .option('--scan <scanId>', 'only if this scan is the running one (refused otherwise)')
      .option('--json', 'print the new status as JSON')
      .action((o: { scan?: string; json?: boolean }) => send(`scan-${name}`, o.scan ? { scanId: o.scan } : {}, o.json, (d) => statusText(d as ScanStatus)));
  }
  scan
    .command('abort')
    .description('abort the running scan: its results so far are reported as incomplete, the sample fails')
    .option('--reason <text>', 'why (recorded and sent with the scan state)')
    .option('--scan <scanId>', 'only if this scan is the running one (refused otherwise)')
    .option('--json', 'print the new status as JSON')
    .action((o: { reason?: string; scan?: string; json?: boolean }) =>
      send('scan-abort', { ...(o.reason ? { reason: o.reason } : {}), ...(o.scan ? { scanId: o.scan } : {}) }, o.json, (d) => statusText(d as ScanStatus)),
    );

  program
    .command('calibrate')
    .description('measure pixel ↔ stage transforms per objective and the offsets between objectives (phase correlation); writes the calibration file')
    .option('--out <file>', 'where to write it (default: scan.calibrationFile, else <stateDir>/calibration.json)')
    .option('--json', 'print the calibration as JSON')
    .action(async (o: { out?: string; json?: boolean }) => {
      const config = loadConfig(program);
      const paths = statePaths(config.appliance.stateDir);
      // Under sudo, act as the daemon's user so the calibration file and records stay usable by it.
      actAsStateOwner(paths.root);
      if (existsSync(paths.controlSocket)) {
        const busy = await controlRequest(paths.controlSocket, 'status', {}, currentActor(), 2000).then(
          () => true,
          () => false,
        );
        if (busy) throw new Error('the daemon is running and holds the camera and stage: stop it first (systemctl stop smartscope)');
      }
      const log = createLogger({ level: o.json ? 'warn' : config.logging.level });
      const cal = await measureCalibration(config, log);
      const out = o.out ?? config.scan.calibrationFile ?? join(paths.root, 'calibration.json');
      mkdirSync(dirname(out), { recursive: true });
      saveCalibration(out, cal);
      const records = Records.open({ path: paths.recordsDb, busyTimeoutMs: config.records.busyTimeoutMs });
      try {
        records.registerCalibration(cal.version, null, cal);
        records.audit({ actor: currentActor(), action: 'calibrate', subject: cal.version, outcome: 'ok', details: { file: out } });
      } finally {
        records.close();
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ file: out, ...cal })}\n`);
        return;
      }
      process.stdout.write(`calibration ${cal.version} written to ${out}\n`);
      for (const c of Object.values(cal.objectives)) {
        const m = c.pixelToStage;
        const umPerPx = Math.sqrt(Math.abs(m[0] * m[3] - m[1] * m[2]));
        const rot = (Math.atan2(m[2], m[0]) * 180) / Math.PI;
        process.stdout.write(
          `  ${c.objective.padEnd(5)} ${umPerPx.toFixed(4)} µm/px  rotation ${rot.toFixed(2)}°  flipped ${m[0] * m[3] - m[1] * m[2] < 0 ? 'yes' : 'no'}  ` +
            `axis offset (${c.offsetUm[0].toFixed(2)}, ${c.offsetUm[1].toFixed(2)}) µm  z offset ${c.zOffsetUm.toFixed(2)} µm  residual ${c.residualUm.toFixed(2)} µm\n`,
        );
      }
    });
}
