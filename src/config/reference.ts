/**
 * Renders the config reference (docs/config.md) from the schema, so the documentation cannot drift from what the
 * validator accepts. `npm run docs:config` writes it; test/config/reference.test.ts fails when the file is stale.
 */
import type { Schema } from '../kernel/schema-kit.js';

interface Row {
  key: string;
  type: string;
  dflt: string;
  range: string;
  description: string;
}

export function renderConfigReference(root: Schema): string {
  const sections = root.properties as Record<string, Schema>;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the schema by `npm run docs:config` (scripts/docs-config.ts). Do not edit by hand. -->',
    '',
    'smartscope reads one YAML file: `--config FILE`, else `$SMARTSCOPE_CONFIG`, else `/etc/smartscope/config.yaml`.',
    'Every setting is optional unless marked **required**; left out, it takes the default shown. Unknown keys are',
    'rejected. `smartscope config check` validates a file and lists every problem with its path, the value found and',
    'what was expected (exit code 0 when valid, 1 when not).',
    '',
    'Secrets (passwords, keys) are never written into the file. A secret setting takes a reference instead:',
    '`{ file: /etc/smartscope/secret.txt }` (the first line of the file; a relative path is relative to the config',
    'file) or `{ env: VARIABLE }`. References are resolved when the config is loaded; an unreadable file or an unset',
    'variable is a config error, and the value never appears in logs, errors or `config check` output.',
    '',
    '## Sections',
    '',
    ...Object.entries(sections).map(([name, s]) => `- [\`${name}\`](#${name}) — ${firstSentence(String(s.description ?? ''))}`),
    '',
  ];
  for (const [name, s] of Object.entries(sections)) {
    out.push(`## ${name}`, '', String(s.description ?? ''), '');
    const rows: Row[] = [];
    collect(s, name, rows, false);
    out.push('| Key | Type | Default | Allowed | Description |', '| --- | --- | --- | --- | --- |');
    for (const r of rows) out.push(`| \`${r.key}\` | ${r.type} | ${r.dflt} | ${r.range} | ${r.description} |`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The recipe reference (docs/recipe.md): how recipes are used, an example, and one table of every field. */
export function renderRecipeReference(root: Schema, example: string): string {
  const rows: Row[] = [];
  const props = root.properties as Record<string, Schema>;
  const req = new Set((root.required as string[] | undefined) ?? []);
  for (const [k, sub] of Object.entries(props)) collect(sub, k, rows, req.has(k));
  const out = [
    '# Recipe reference',
    '',
    '<!-- Generated from the schema by `npm run docs:config` (scripts/docs-config.ts). Do not edit by hand. -->',
    '',
    'A recipe says what to inspect on one product and how: the outline, the survey and zoom objectives, thresholds,',
    'focus strategy, acceptance criteria and what to do with a target that cannot be reached. The daemon reads',
    '`<scan.recipesDir>/<id>.yaml` when a sample is queued with that recipe id (`smartscope scan enqueue --recipe ID`,',
    'MQTT `cmd/enqueue-sample`); a bad recipe is refused at that moment with every problem named by path, value and',
    'expectation. Every event, summary and record carries the recipe id and version. On the twin, the id `twin` is the',
    'whole mounted sample with all defaults.',
    '',
    'Example (`examples/recipes/plate-a.yaml`):',
    '',
    '```yaml',
    example.trimEnd(),
    '```',
    '',
    '| Key | Type | Default | Allowed | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.key}\` | ${r.type} | ${r.dflt} | ${r.range} | ${r.description} |`),
  ];
  return `${out.join('\n')}\n`;
}

function collect(s: Schema, key: string, rows: Row[], required: boolean): void {
  const props = s.properties as Record<string, Schema> | undefined;
  if (s['x-secret'] === true) {
    rows.push(row(s, key, 'secret reference', required));
    return;
  }
  if (s.type === 'object' && props) {
    const req = new Set((s.required as string[] | undefined) ?? []);
    for (const [k, sub] of Object.entries(props)) collect(sub, `${key}.${k}`, rows, req.has(k));
    return;
  }
  const items = s.items as Schema | undefined;
  if (s.type === 'array' && items?.type === 'object' && items.properties) {
    rows.push(row(s, `${key}[]`, 'list of objects', required));
    collect({ ...items, description: undefined }, `${key}[]`, rows, false);
    return;
  }
  rows.push(row(s, key, typeName(s), required));
}

function typeName(s: Schema): string {
  if (s.type === 'array') {
    const items = s.items as Schema | undefined;
    return `list of ${items?.type ?? 'values'}`;
  }
  if (Array.isArray(s.enum)) return typeof s.enum[0] === 'number' ? 'integer' : 'string';
  return String(s.type ?? 'any');
}

function row(s: Schema, key: string, type: string, required: boolean): Row {
  return {
    key,
    type: required ? `${type} (**required**)` : type,
    dflt: defaultOf(s),
    range: rangeOf(s),
    description: esc(String(s.description ?? '')),
  };
}

function defaultOf(s: Schema): string {
  if (!('default' in s)) return '—';
  const d = s.default;
  if (d !== null && typeof d === 'object' && !Array.isArray(d) && Object.keys(d).length === 0) return '—';
  const j = JSON.stringify(d);
  return `\`${esc(j.length > 60 ? `${j.slice(0, 57)}...` : j)}\``;
}

function rangeOf(s: Schema): string {
  const unit = typeof s['x-unit'] === 'string' ? ` ${s['x-unit']}` : '';
  const parts: string[] = [];
  if (Array.isArray(s.enum)) parts.push(s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(', '));
  const min = s.minimum ?? s.exclusiveMinimum;
  const max = s.maximum ?? s.exclusiveMaximum;
  if (min !== undefined || max !== undefined) {
    const lo = min === undefined ? '' : `${s.exclusiveMinimum !== undefined ? '>' : '≥'} ${min}`;
    const hi = max === undefined ? '' : `${s.exclusiveMaximum !== undefined ? '<' : '≤'} ${max}`;
    parts.push(`${[lo, hi].filter(Boolean).join(', ')}${unit}`);
  } else if (unit) parts.push(`in${unit}`);
  if (typeof s['x-expect'] === 'string') parts.push(s['x-expect']);
  else if (typeof s.pattern === 'string') parts.push(`matches \`${s.pattern}\``);
  if (typeof s.format === 'string' && typeof s['x-expect'] !== 'string') parts.push(`${s.format} format`);
  if ((s.minLength !== undefined || s.maxLength !== undefined) && typeof s['x-expect'] !== 'string')
    parts.push(`${s.minLength ?? 0}–${s.maxLength ?? '∞'} characters`);
  if (s.minItems !== undefined || s.maxItems !== undefined) parts.push(`${s.minItems ?? 0}–${s.maxItems ?? '∞'} items`);
  if (s['x-secret'] === true) parts.push('`{ file: PATH }` or `{ env: NAME }`');
  return parts.length ? esc(parts.join('; ')) : '—';
}

function esc(s: string): string {
  // "<" outside code spans would start an HTML tag in the rendered table; inside code spans it is literal.
  return s
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;') : part))
    .join('`')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

function firstSentence(s: string): string {
  const i = s.search(/[.;:](\s|$)/);
  return i > 0 ? s.slice(0, i) : s;
}
