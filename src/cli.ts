#!/usr/bin/env node
/**
 * `smartscope` command line. Each command lives in src/commands/<name>.ts and registers itself on the program; this
 * file only assembles them and maps failures to exit codes:
 *   0 success · 1 the work ran and found a failure (e.g. config check found problems, a sample failed acceptance)
 *   2 usage error (unknown command or option) · 3 runtime error (device, file, broker)
 */
import { Command, CommanderError } from 'commander';
import { registerConfigCommands } from './commands/config.js';
import { registerDatasetCommands } from './commands/dataset.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, error: 3 } as const;

export function buildProgram(): Command {
  const program = new Command('smartscope')
    .description('Runtime of the smart microscope: survey, AI candidates, stage, zoom, confirm; events to the MES over MQTT.')
    .option('-c, --config <file>', 'config file (default: $SMARTSCOPE_CONFIG or /etc/smartscope/config.yaml)')
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program);
  registerDatasetCommands(program);
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
    const e = err as Error;
    process.stderr.write(`smartscope: ${e.message}\n`);
    if (process.env.SMARTSCOPE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return EXIT.error;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
