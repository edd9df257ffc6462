/**
 * The JSON Schemas of every MQTT payload (draft-07, the dialect AsyncAPI 3 payloads use by default), compiled once.
 * The same files are referenced by docs/asyncapi.yaml.
 */
import AjvImport, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import common from './common.schema.json' with { type: 'json' };
import defectEvent from './defect-event.schema.json' with { type: 'json' };
import scanEvent from './scan-event.schema.json' with { type: 'json' };
import alarmEvent from './alarm-event.schema.json' with { type: 'json' };
import auditEvent from './audit-event.schema.json' with { type: 'json' };
import status from './status.schema.json' with { type: 'json' };
import stats from './stats.schema.json' with { type: 'json' };
import commandReply from './command-reply.schema.json' with { type: 'json' };
import sparkplugState from './sparkplug-state.schema.json' with { type: 'json' };
import cmdStartScan from './cmd-start-scan.schema.json' with { type: 'json' };
import cmdPauseScan from './cmd-pause-scan.schema.json' with { type: 'json' };
import cmdResumeScan from './cmd-resume-scan.schema.json' with { type: 'json' };
import cmdAbortScan from './cmd-abort-scan.schema.json' with { type: 'json' };
import cmdEnqueueSample from './cmd-enqueue-sample.schema.json' with { type: 'json' };
import cmdReloadModel from './cmd-reload-model.schema.json' with { type: 'json' };
import cmdRequestStatus from './cmd-request-status.schema.json' with { type: 'json' };
import type { CommandName } from '../payloads.js';

// ajv and ajv-formats are CommonJS with default exports.
const Ajv = AjvImport as unknown as typeof AjvImport.default;
const addFormats = addFormatsImport as unknown as (ajv: InstanceType<typeof Ajv>) => void;

/** Payload schemas by name (file name without `.schema.json`). */
export const payloadSchemas = {
  'defect-event': defectEvent,
  'scan-event': scanEvent,
  'alarm-event': alarmEvent,
  'audit-event': auditEvent,
  status,
  stats,
  'command-reply': commandReply,
  'sparkplug-state': sparkplugState,
} as const;

export const commandSchemas: Record<CommandName, object> = {
  'start-scan': cmdStartScan,
  'pause-scan': cmdPauseScan,
  'resume-scan': cmdResumeScan,
  'abort-scan': cmdAbortScan,
  'enqueue-sample': cmdEnqueueSample,
  'reload-model': cmdReloadModel,
  'request-status': cmdRequestStatus,
};

export const commonSchema = common;

export type PayloadName = keyof typeof payloadSchemas;

/** One Ajv instance holding every schema, so `$ref`s between files resolve by `$id`. */
export function createPayloadAjv(): InstanceType<typeof Ajv> {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
  addFormats(ajv);
  ajv.addSchema(common);
  for (const s of Object.values(payloadSchemas)) ajv.addSchema(s);
  for (const s of Object.values(commandSchemas)) ajv.addSchema(s);
  return ajv;
}

const ajv = createPayloadAjv();
const cache = new Map<object, ValidateFunction>();

function compiled(schema: object): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = ajv.getSchema((schema as { $id: string }).$id)!;
    cache.set(schema, v);
  }
  return v;
}

export function payloadValidator(name: PayloadName): ValidateFunction {
  return compiled(payloadSchemas[name]);
}

export function commandValidator(name: CommandName): ValidateFunction {
  return compiled(commandSchemas[name]);
}

/** "path: message" for each error, the most specific first; at most `max`. */
export function describeErrors(errors: ErrorObject[] | null | undefined, max = 5): string {
  if (!errors || errors.length === 0) return 'invalid';
  const lines = errors.slice(0, max).map((e) => {
    const at = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replace(/\//g, '.');
    if (e.keyword === 'additionalProperties') {
      return `${at}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    }
    if (e.keyword === 'enum') {
      return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return `${at}: ${e.message ?? e.keyword}`;
  });
  const more = errors.length > max ? `; and ${errors.length - max} more` : '';
  return lines.join('; ') + more;
}
