#!/usr/bin/env node
/**
 * `smartscope` command line. Each command lives in src/commands/<name>.ts and registers itself on the program; this
 * file only assembles them and maps failures to exit codes (src/exit-codes.ts, docs/cli.md).
 */
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerConfigCommands } from './commands/config.js';
import { registerModelCommands } from './commands/model.js';
import { registerRunCommand } from './commands/run.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerRecordsCommands } from './commands/records.js';
import { ConfigError } from './kernel/validate.js';
import { EXIT } from './exit-codes.js';
import { registerDatasetCommands } from './commands/dataset.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerScanCommands } from './commands/scan.js';
import { registerWebCommands } from './commands/web.js';

export { EXIT };

export function buildProgram(): Command {
  const program = new Command('smartscope')
    .description('Runtime of the smart microscope: survey, AI candidates, stage, zoom, confirm; events to the MES over MQTT.')
    .option('-c, --config <file>', 'config file (default: $SMARTSCOPE_CONFIG or /etc/smartscope/config.yaml)')
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program);
  registerModelCommands(program);
  registerRunCommand(program);
  registerDoctorCommand(program);
  registerBenchCommand(program);
  registerRecordsCommands(program);
  registerDatasetCommands(program);
  registerEvalCommand(program);
  registerDemoCommand(program);
  registerWebCommands(program);
  registerScanCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`smartscope: invalid configuration: ${err.message}\n`);
      return EXIT.config;
    }
    const e = err as Error;
    process.stderr.write(`smartscope: ${e.message}\n`);
    if (process.env.SMARTSCOPE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return EXIT.error;
  }
}

// Compared by real path: the program is usually reached through a link (npm's bin link, /opt/smartscope -> release).
const invokedDirectly = !!process.argv[1] && realpathOr(process.argv[1]) === realpathOr(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
