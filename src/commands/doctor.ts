/**
 * `smartscope doctor [--json]`: camera, stage, broker, models, disk space and clock, each PASS/FAIL/SKIP with a hint.
 * Exit code 0 when nothing failed, 1 otherwise.
 */
import type { Command } from 'commander';
import { createApplianceParts } from '../app.js';
import { ConfigError } from '../kernel/validate.js';
import { assertCrossField } from '../config/checks.js';
import { EXIT } from '../exit-codes.js';
import { checkBroker, checkCamera, checkClock, checkDisk, checkModels, checkStage, daemonHealth, type DoctorCheck } from '../appliance/doctor.js';
import { silentLogger } from '../kernel/logger.js';
import { configPath, loadConfig } from './config.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check camera, stage, broker, models, disk space and clock; each with a pass/fail and a hint')
    .option('--json', 'print {ok, checks: [{name, status, detail, hint}]}')
    .action(async (opts: { json?: boolean }) => {
      const checks: DoctorCheck[] = [];
      let config;
      const warnings: string[] = [];
      try {
        const loaded = loadConfig(program, warnings);
        // Cross-field and file problems fail the config check (the device checks would only fail on them again).
        assertCrossField(loaded, configPath(program) ?? 'config');
        config = loaded;
        checks.push({ name: 'config', status: 'pass', detail: `valid${warnings.length ? `; ${warnings.join('; ')}` : ''}` });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        checks.push({
          name: 'config',
          status: 'fail',
          detail: err.message.replace(/\n/g, ' '),
          hint: 'fix the file; `smartscope config check` lists every problem',
        });
      }
      if (config) {
        const health = await daemonHealth(config);
        const parts = health ? null : await createApplianceParts(config, silentLogger());
        const devices = { camera: () => parts!.camera(), stage: () => parts!.stage() };
        checks.push(await checkCamera(devices, health));
        checks.push(await checkStage(devices, health));
        checks.push(await checkBroker(config));
        checks.push(await checkModels(config));
        checks.push(checkDisk(config));
      }
      checks.push(checkClock());
      const ok = checks.every((c) => c.status !== 'fail');
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`);
      else {
        for (const c of checks) {
          process.stdout.write(`${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(6)}  ${c.detail}\n`);
          if (c.hint && c.status !== 'pass') process.stdout.write(`              hint: ${c.hint}\n`);
        }
      }
      process.exitCode = ok ? EXIT.ok : EXIT.failed;
    });
}
