/**
 * Schema validation with error reports a person can act on: every problem names the path of the field, the value
 * found, and what was expected. Schemas are JSON Schema (draft 2020-12 subset) objects in which every property has a
 * `description` and, where it has one, a `default` and a range; unknown keys are rejected everywhere.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

export interface ConfigIssue {
  path: string;
  value: unknown;
  expected: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `  - ${i.path || '(top level)'}: ${describeValue(i.value)} — expected ${i.expected}`;
}

/** Stands in for a value that must not be printed (an inline secret). */
export const HIDDEN = Symbol.for('smartscope.config.hidden');

/** Issues as plain JSON (for `--json` output): hidden values become "[not shown]". */
export function issuesToJson(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.map((i) => (i.value === HIDDEN ? { ...i, value: '[not shown]' } : i));
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === HIDDEN) return 'an inline value (not shown)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

// optimize: false halves compile time (every CLI start compiles the schema once); validation speed does not matter here.
const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, strictTuples: false, allowUnionTypes: true, code: { optimize: false } });
addFormats(ajv);
ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'x-unit', schemaType: 'string' });
ajv.addKeyword({ keyword: 'x-expect', schemaType: 'string' });

const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** Validates `data` in place (filling defaults) and returns it typed, or throws a {@link ConfigError}. */
export function validate<T>(schema: object, data: unknown, source: string): T {
  const v = compile(schema);
  if (v(data)) return data as T;
  throw new ConfigError(source, toIssues(v.errors ?? [], data, schema));
}

function get(data: unknown, pointer: string): unknown {
  if (!pointer) return data;
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
}

function schemaAt(schema: object, schemaPath: string): Record<string, unknown> | undefined {
  // schemaPath is like "#/properties/stage/properties/x/minimum": walk to the parent of the failing keyword.
  const parts = schemaPath.replace(/^#\/?/, '').split('/');
  parts.pop();
  let cur: unknown = schema;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur && typeof cur === 'object' ? (cur as Record<string, unknown>) : undefined;
}

/** The instance path of the secret reference an error falls in, or null when it is not inside one. */
function secretPathOf(schema: object, e: ErrorObject): string | null {
  const parts = e.schemaPath.replace(/^#\/?/, '').split('/');
  let cur: unknown = schema;
  let depth = 0;
  for (const p of parts) {
    if (cur && typeof cur === 'object' && (cur as Record<string, unknown>)['x-secret'] === true) {
      // Each "properties/<key>" step below the root of the secret adds one instance path segment.
      const below = parts.slice(depth).filter((_q, i, a) => a[i - 1] === 'properties').length;
      const segs = e.instancePath.split('/');
      return segs.slice(0, segs.length - below).join('/');
    }
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
    depth++;
  }
  return cur && typeof cur === 'object' && (cur as Record<string, unknown>)['x-secret'] === true ? e.instancePath : null;
}

export const SECRET_EXPECTATION = 'a reference { file: PATH } or { env: NAME } (secrets are never written into the config file)';

function toIssues(errors: ErrorObject[], data: unknown, schema: object): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  // With anyOf/oneOf, ajv reports each branch; keep the most specific messages and drop the summary ones when a branch
  // already explained the problem at the same path.
  for (const e of errors) {
    const secretAt = secretPathOf(schema, e);
    if (secretAt !== null) {
      // One message per secret reference, and never the value itself when someone wrote the secret inline.
      const v = get(data, secretAt);
      const key = `${secretAt}|secret`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ path: dotted(secretAt), value: v !== null && typeof v === 'object' ? v : v === undefined ? undefined : HIDDEN, expected: SECRET_EXPECTATION });
      continue;
    }
    let path = e.instancePath;
    let value: unknown = get(data, path);
    let expected: string;
    const s = schemaAt(schema, e.schemaPath);
    const unit = typeof s?.['x-unit'] === 'string' ? ` ${s['x-unit']}` : '';
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        path = `${path}/${extra}`;
        value = get(data, path);
        const allowed = Object.keys((s?.properties as object | undefined) ?? {});
        expected = `no such setting here (unknown key "${extra}"; allowed: ${allowed.join(', ')})`;
        break;
      }
      case 'required':
        path = `${path}/${(e.params as { missingProperty: string }).missingProperty}`;
        value = undefined;
        expected = 'a value (this setting is required)';
        break;
      case 'minimum':
      case 'exclusiveMinimum':
      case 'maximum':
      case 'exclusiveMaximum': {
        const p = e.params as { comparison: string; limit: number };
        expected = `a number ${p.comparison} ${p.limit}${unit}`;
        break;
      }
      case 'enum':
        expected = `one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'const':
        expected = JSON.stringify((e.params as { allowedValue: unknown }).allowedValue);
        break;
      case 'type':
        expected = `${(e.params as { type: string }).type}${unit ? ` (${unit.trim()})` : ''}`;
        break;
      case 'pattern':
      case 'format':
        expected =
          typeof s?.['x-expect'] === 'string'
            ? s['x-expect']
            : e.keyword === 'pattern'
              ? `a string matching ${(e.params as { pattern: string }).pattern}`
              : `a ${(e.params as { format: string }).format} string`;
        break;
      case 'minLength':
      case 'maxLength':
        expected =
          typeof s?.['x-expect'] === 'string'
            ? s['x-expect']
            : `a string of ${e.keyword === 'minLength' ? 'at least' : 'at most'} ${(e.params as { limit: number }).limit} characters`;
        break;
      case 'minItems':
      case 'maxItems':
        expected = `a list of ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${(e.params as { limit: number }).limit} items`;
        break;
      default:
        expected = e.message ?? e.keyword;
    }
    const desc = typeof s?.description === 'string' && e.keyword !== 'additionalProperties' ? ` (${firstSentence(s.description)})` : '';
    const key = `${path}|${expected}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: dotted(path), value, expected: expected + desc });
  }
  return out;
}

function firstSentence(s: string): string {
  const i = s.search(/[.;](\s|$)/);
  return i > 0 ? s.slice(0, i) : s;
}
