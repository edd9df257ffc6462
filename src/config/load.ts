/**
 * Reading the config file: YAML → schema validation (defaults filled in) → secret references resolved → typed Config.
 * Errors name the file, the path of each bad field, its value and what was expected.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { resolveSecrets } from '../kernel/secret.js';
import { ConfigError, validate } from '../kernel/validate.js';

export const DEFAULT_CONFIG_PATH = '/etc/smartscope/config.yaml';

export interface ParseOptions {
  /** Folder that relative secret file paths are relative to (the config file's folder). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Receives non-fatal findings (e.g. a world-readable secret file). */
  warnings?: string[];
}

/** Validates a config object (e.g. parsed YAML, or {} for all defaults) and resolves its secret references. */
export function parseConfig(data: unknown, source = 'config', opts: ParseOptions = {}): Config {
  const copy = data === undefined || data === null ? {} : structuredClone(data);
  const config = validate<Config>(configSchema, copy, source);
  const r = resolveSecrets(configSchema, config, opts.baseDir ?? process.cwd(), opts.env ?? process.env);
  if (r.issues.length > 0) throw new ConfigError(source, r.issues);
  opts.warnings?.push(...r.warnings);
  return config;
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(path: string, opts: Omit<ParseOptions, 'baseDir'> = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(path, [{ path: '', value: undefined, expected: `a readable YAML file (${e.code ?? e.message})` }]);
  }
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0]! : String(err);
    throw new ConfigError(path, [{ path: '', value: undefined, expected: `valid YAML (${msg})` }]);
  }
  return parseConfig(data, path, { ...opts, baseDir: dirname(resolve(path)) });
}
