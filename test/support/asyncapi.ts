/**
 * docs/asyncapi.yaml as a checker for what a subscriber receives: each topic must belong to exactly one channel, and
 * each payload must match that channel's message (JSON Schema, JPEG, or a Sparkplug B protobuf that decodes).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sparkplugPayload from 'sparkplug-payload';
import { parse as parseYaml } from 'yaml';
import { createPayloadAjv, describeErrors } from '../../src/publish/schemas/index.js';

export const asyncapiPath = resolve(import.meta.dirname, '../../docs/asyncapi.yaml');

export interface AsyncApiDoc {
  channels: Record<string, { address: string | null; messages: Record<string, { $ref: string }>; parameters?: Record<string, { enum?: string[] }> }>;
  components: { messages: Record<string, { contentType: string; payload: { $ref?: string; type?: string } }> };
}

export function loadAsyncApi(): AsyncApiDoc {
  return parseYaml(readFileSync(asyncapiPath, 'utf8')) as AsyncApiDoc;
}

export interface AsyncApiChecker {
  /** Every channel key of the document. */
  readonly channels: string[];
  /** The channel of a received message; throws, saying why, when the topic or payload does not conform. */
  check(topic: string, payload: Buffer): string;
}

export function asyncapiChecker(doc: AsyncApiDoc = loadAsyncApi()): AsyncApiChecker {
  const payloadAjv = createPayloadAjv();
  const channels = Object.entries(doc.channels).map(([key, ch]) => {
    const pattern =
      ch.address === null
        ? /^mes\/replies\//
        : new RegExp(
            `^${ch.address.replace(/\{(\w+)\}/g, (_, p: string) => (ch.parameters?.[p]?.enum ? `(?:${ch.parameters[p]!.enum!.join('|')})` : p === 'prefix' ? 'smartscope' : '[^/]+'))}$`,
          );
    const messages = Object.values(ch.messages).map((m) => doc.components.messages[m.$ref.split('/').pop()!]!);
    return { key, pattern, messages };
  });
  return {
    channels: channels.map((c) => c.key),
    check(topic, payload) {
      const matching = channels.filter((c) => c.pattern.test(topic));
      if (matching.length !== 1)
        throw new Error(`topic ${topic} belongs to ${matching.length} channels (${matching.map((c) => c.key).join(', ')}), not exactly one`);
      const ch = matching[0]!;
      const spec = ch.messages[0]!;
      if (spec.contentType === 'image/jpeg') {
        if (payload.subarray(0, 2).toString('hex') !== 'ffd8') throw new Error(`${topic}: not a JPEG`);
      } else if (spec.contentType === 'application/x-protobuf') {
        sparkplugPayload.get('spBv1.0')!.decodePayload(payload);
      } else {
        const body = JSON.parse(payload.toString('utf8')) as unknown;
        const errors: string[] = [];
        const valid = ch.messages.some((msg) => {
          const schema = JSON.parse(readFileSync(join(dirname(asyncapiPath), msg.payload.$ref!), 'utf8')) as { $id: string };
          const v = payloadAjv.getSchema(schema.$id)!;
          if (v(body)) return true;
          errors.push(describeErrors(v.errors));
          return false;
        });
        if (!valid) throw new Error(`${topic}: ${errors.join(' | ')}`);
      }
      return ch.key;
    },
  };
}
