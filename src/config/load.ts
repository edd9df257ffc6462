/**
 * Reading the config file: YAML → schema validation (defaults filled in) → typed Config. Errors name the file, the
 * path of each bad field, its value and what was expected.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { ConfigError, validate } from './validate.js';

export const DEFAULT_CONFIG_PATH = '/etc/smartscope/config.yaml';

/** Validates a config object (e.g. parsed YAML, or {} for all defaults). */
export function parseConfig(data: unknown, source = 'config'): Config {
  const copy = data === undefined || data === null ? {} : structuredClone(data);
  return validate<Config>(configSchema, copy, source);
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(path: string): Config {
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
  return parseConfig(data, path);
}
