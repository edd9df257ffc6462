/**
 * Small builders for config schemas, so every field states its description, default and range in one line.
 * All objects reject unknown keys. `x-unit` names the unit shown in errors and in the generated reference; `x-expect`
 * says in words what a pattern or format expects (used in errors instead of the raw regular expression).
 */
export type Schema = Record<string, unknown>;

export function num(description: string, dflt: number | undefined, min?: number, max?: number, unit?: string): Schema {
  return clean({ type: 'number', description, default: dflt, minimum: min, maximum: max, 'x-unit': unit });
}

export function int(description: string, dflt: number | undefined, min?: number, max?: number, unit?: string): Schema {
  return clean({ type: 'integer', description, default: dflt, minimum: min, maximum: max, 'x-unit': unit });
}

export function bool(description: string, dflt: boolean | undefined): Schema {
  return clean({ type: 'boolean', description, default: dflt });
}

export function str(description: string, dflt?: string, extra: Schema = {}): Schema {
  return clean({ type: 'string', description, default: dflt, ...extra });
}

export function oneOf<T extends string>(description: string, values: readonly T[], dflt?: T): Schema {
  return clean({ type: 'string', enum: [...values], description, default: dflt });
}

export function arr(description: string, items: Schema, extra: Schema = {}): Schema {
  return clean({ type: 'array', description, items, ...extra });
}

/** An absolute filesystem path. */
export function absPath(description: string, dflt?: string): Schema {
  return clean({ type: 'string', description, default: dflt, pattern: '^/', minLength: 2, 'x-expect': 'an absolute path (starting with /)' });
}

/** A fixed-length numeric tuple such as [x, y]. */
export function pair(description: string, dflt: [number, number] | undefined, unit?: string): Schema {
  return clean({
    type: 'array',
    description,
    items: { type: 'number' },
    minItems: 2,
    maxItems: 2,
    default: dflt,
    'x-unit': unit,
  });
}

/**
 * An object section. With `filled` (the default) the section defaults to {} so nested defaults apply even when the
 * section is left out.
 */
export function obj(description: string, properties: Record<string, Schema>, opts: { required?: string[]; filled?: boolean } = {}): Schema {
  return clean({
    type: 'object',
    description,
    properties,
    required: opts.required && opts.required.length > 0 ? opts.required : undefined,
    additionalProperties: false,
    default: opts.filled === false ? undefined : {},
  });
}

/**
 * A secret given by reference only: `{ file: PATH }` (first line of the file; relative paths are relative to the config
 * file) or `{ env: NAME }`, never inline. At load time the reference is replaced by a {@link Secret} (src/kernel/secret.ts)
 * whose value only `reveal()` returns: it prints, logs and serialises as "[secret]".
 */
export function secretRef(description: string): Schema {
  return {
    type: 'object',
    description: `${description} Given by reference: { file: PATH } (first line of the file) or { env: NAME }.`,
    'x-secret': true,
    properties: {
      file: { type: 'string', minLength: 1, description: 'Path of a file holding the secret (relative to the config file).' },
      env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Name of an environment variable holding the secret.' },
    },
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
  };
}

function clean(s: Schema): Schema {
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}
