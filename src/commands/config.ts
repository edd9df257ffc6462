import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH, loadConfigFile, parseConfig } from '../config/load.js';
import { ConfigError, issuesToJson } from '../kernel/validate.js';
import { assertCrossField } from '../config/checks.js';
import type { Config } from '../config/schema.js';

/** The config file a command uses: --config, else $SMARTSCOPE_CONFIG, else the default path. */
export function configPath(program: Command): string | undefined {
  const opt = program.opts<{ config?: string }>().config;
  return opt ?? process.env.SMARTSCOPE_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
}

/** Loads the config a command should use; with no file anywhere, all defaults (the twin). */
export function loadConfig(program: Command, warnings?: string[]): Config {
  const path = configPath(program);
  return path ? loadConfigFile(path, { warnings }) : parseConfig({}, 'defaults', { warnings });
}

export function registerConfigCommands(program: Command): void {
  const cfg = program.command('config').description('configuration file tools');
  cfg
    .command('check')
    .description(
      'check the config file against the schema, across fields (camera buffers, TLS files, twin or real) and resolve its secret references; exit 0 when valid, 1 with every problem listed when not',
    )
    .option('--json', 'print the result as JSON: {file, valid, problems: [{path, value, expected}], warnings}')
    .action((opts: { json?: boolean }) => {
      const path = configPath(program) ?? DEFAULT_CONFIG_PATH;
      const warnings: string[] = [];
      try {
        assertCrossField(loadConfigFile(path, { warnings }), path);
        if (opts.json) process.stdout.write(`${JSON.stringify({ file: path, valid: true, problems: [], warnings })}\n`);
        else process.stdout.write(`${path}: valid\n${warnings.map((w) => `  warning: ${w}\n`).join('')}`);
        process.exitCode = 0;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (opts.json) process.stdout.write(`${JSON.stringify({ file: path, valid: false, problems: issuesToJson(err.issues), warnings })}\n`);
        else process.stdout.write(`${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
