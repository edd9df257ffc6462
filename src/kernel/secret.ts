/**
 * Secrets in the config are references (`{ file: PATH }` or `{ env: NAME }`, see schema-kit's `secretRef`). Loading the
 * config replaces each reference by a {@link Secret}: the value is read once, at load time, and only `reveal()` hands it
 * out. Printing, logging (pino serialises with JSON.stringify), `util.inspect` and template strings all show
 * "[secret]", so a config object can be logged whole without leaking anything.
 */
import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from './validate.js';
import type { Schema } from './schema-kit.js';

export class Secret {
  readonly #value: string;

  /** @param source where the value came from, e.g. `file /etc/smartscope/mqtt.pass` or `env MQTT_PASSWORD`. */
  constructor(
    value: string,
    readonly source: string,
  ) {
    this.#value = value;
  }

  /** The secret itself: pass it straight to the library that needs it, never to a logger. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return `[secret from ${this.source}]`;
  }
}

export interface SecretReference {
  file?: string;
  env?: string;
}

export interface SecretResolution {
  issues: ConfigIssue[];
  /** Non-fatal findings, e.g. a secret file readable by every user. */
  warnings: string[];
}

/**
 * Replaces every secret reference in `data` (already validated against `schema`) by a {@link Secret}, in place.
 * Relative file paths are taken relative to `baseDir` (the config file's folder).
 */
export function resolveSecrets(schema: Schema, data: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): SecretResolution {
  const out: SecretResolution = { issues: [], warnings: [] };
  walk(schema, data, '', (ref, path, set) => {
    const r = resolveOne(ref, path, baseDir, env, out);
    if (r) set(r);
  });
  return out;
}

function resolveOne(ref: SecretReference, path: string, baseDir: string, env: NodeJS.ProcessEnv, out: SecretResolution): Secret | null {
  if (ref.env !== undefined) {
    const v = env[ref.env];
    if (v === undefined || v === '') {
      out.issues.push({
        path,
        value: ref,
        expected: `environment variable ${ref.env} to be set to the secret (it is ${v === undefined ? 'not set' : 'empty'})`,
      });
      return null;
    }
    return new Secret(v, `env ${ref.env}`);
  }
  const file = isAbsolute(ref.file!) ? ref.file! : resolve(baseDir, ref.file!);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    out.issues.push({ path, value: ref, expected: `a readable file holding the secret (${file}: ${e.code ?? e.message})` });
    return null;
  }
  const value = text.split(/\r?\n/, 1)[0] ?? '';
  if (value === '') {
    out.issues.push({ path, value: ref, expected: `a secret on the first line of ${file} (the line is empty)` });
    return null;
  }
  try {
    const mode = statSync(file).mode;
    if (mode & 0o004) out.warnings.push(`${path}: secret file ${file} is readable by every user (mode ${(mode & 0o777).toString(8)}); chmod o-rwx it`);
  } catch {
    // Read just succeeded; a stat failure here only skips the permission hint.
  }
  return new Secret(value, `file ${file}`);
}

type Visit = (ref: SecretReference, path: string, set: (s: Secret) => void) => void;

function walk(schema: Schema, data: unknown, path: string, visit: Visit): void {
  if (data === null || typeof data !== 'object') return;
  const props = schema.properties as Record<string, Schema> | undefined;
  if (props && !Array.isArray(data)) {
    const rec = data as Record<string, unknown>;
    for (const [key, sub] of Object.entries(props)) {
      if (!(key in rec)) continue;
      const p = path ? `${path}.${key}` : key;
      if (sub['x-secret'] === true) {
        const v = rec[key];
        if (v && typeof v === 'object' && !(v instanceof Secret)) visit(v as SecretReference, p, (s) => (rec[key] = s));
      } else {
        walk(sub, rec[key], p, visit);
      }
    }
  }
  const items = schema.items as Schema | undefined;
  if (items && Array.isArray(data)) {
    data.forEach((v, i) => {
      if (items['x-secret'] === true) {
        if (v && typeof v === 'object' && !(v instanceof Secret)) visit(v as SecretReference, `${path}[${i}]`, (s) => (data[i] = s));
      } else walk(items, v, `${path}[${i}]`, visit);
    });
  }
}

/** Every config path that holds a secret (for docs and for the logger's redaction tests). */
export function secretPaths(schema: Schema, path = ''): string[] {
  const out: string[] = [];
  const props = schema.properties as Record<string, Schema> | undefined;
  if (props) {
    for (const [key, sub] of Object.entries(props)) {
      const p = path ? `${path}.${key}` : key;
      if (sub['x-secret'] === true) out.push(p);
      else out.push(...secretPaths(sub, p));
    }
  }
  const items = schema.items as Schema | undefined;
  if (items) {
    if (items['x-secret'] === true) out.push(`${path}[]`);
    else out.push(...secretPaths(items, `${path}[]`));
  }
  return out;
}
