/**
 * Commands on `cmd/<name>`: validated against their JSON Schema, dispatched to the handler the composition root
 * registered, answered with `{status, data, error}`:
 * - MQTT 5: on the request's Response Topic with its Correlation Data (falls back to `reply/<name>` without one).
 *   A Response Topic outside the configured reply prefix (or the device's own `reply/`) is refused and counted, and
 *   the command does not run: a requester must not make the device publish on its own event topics, a Sparkplug
 *   death certificate, or another device's topics;
 * - MQTT 3.1.1: on `reply/<name>`, with the request's `transaction` echoed so the caller can match.
 *
 * Nothing a client sends can crash the process: every request is counted, and gets exactly one reply (or, when no
 * reply can be sent, a `replyFailed` count). Rejections are logged, rate-limited so a flood cannot fill the journal.
 */
import type { MqttClient, IClientPublishOptions, IPublishPacket } from 'mqtt';
import type { Logger } from '../../kernel/logger.js';
import { SCHEMA_VERSION, type CommandErrorCode, type CommandName, type CommandPayloads, type CommandReply, type DeviceRef } from '../payloads.js';
import { commandSchemas, commandValidator, describeErrors } from '../schemas/index.js';
import type { Topics } from './topics.js';

export interface CommandContext {
  name: CommandName;
  transaction?: string;
  /** MQTT 5 user property `actor`, when the caller sent one (the audit trail records it). */
  actor?: string;
}

export type CommandHandler<N extends CommandName = CommandName> = (payload: CommandPayloads[N], ctx: CommandContext) => unknown;

export interface CommandCounters {
  received: number;
  /** Refused before a handler ran: bad JSON, invalid, unknown, too large, not available, busy. */
  rejected: number;
  /** A handler threw or timed out. */
  failed: number;
  replied: number;
  replyFailed: number;
  /** Refused because the MQTT 5 Response Topic is outside the reply prefix (also counted in `rejected`). */
  replyTopicRefused: number;
}

export interface CommandRouterOptions {
  topics: Topics;
  device: DeviceRef;
  now: () => Date;
  logger: Logger;
  protocolVersion: 4 | 5;
  maxPayloadBytes: number;
  timeoutMs: number;
  maxConcurrent: number;
  /** Absolute topic prefix (ending in /) under which MQTT 5 Response Topics are honoured, besides `<base>/reply/`. */
  replyTopicPrefix: string;
  /** Called after a handler ran (for the audit trail); errors are logged, never thrown. */
  onHandled?: (ctx: CommandContext, outcome: 'ok' | 'error', detail: Record<string, unknown>) => void | Promise<void>;
}

class CommandError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const KNOWN = Object.keys(commandSchemas) as CommandName[];
const LOG_BURST = 20;
const LOG_WINDOW_MS = 10_000;

export class CommandRouter {
  readonly counters: CommandCounters = { received: 0, rejected: 0, failed: 0, replied: 0, replyFailed: 0, replyTopicRefused: 0 };
  private readonly handlers = new Map<CommandName, CommandHandler>();
  private active = 0;
  private logWindowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(private readonly opts: CommandRouterOptions) {}

  /** Registers the handler of a command; returns a function that removes it. */
  on<N extends CommandName>(name: N, handler: CommandHandler<N>): () => void {
    if (!KNOWN.includes(name)) throw new Error(`Expected one of ${KNOWN.join(', ')} for command name but received ${JSON.stringify(name)}`);
    this.handlers.set(name, handler as CommandHandler);
    return () => {
      if (this.handlers.get(name) === handler) this.handlers.delete(name);
    };
  }

  /** Handles one message from `cmd/+`. Never throws. */
  handle(client: MqttClient, topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.counters.received++;
    const name = this.opts.topics.commandName(topic) ?? topic;
    const props = this.opts.protocolVersion === 5 ? packet.properties : undefined;
    const asked = props?.responseTopic;
    const ownReplies = this.opts.topics.full('reply/');
    const allowed = typeof asked === 'string' && validReplyTopic(asked) && (asked.startsWith(this.opts.replyTopicPrefix) || asked.startsWith(ownReplies));
    const refusedTopic = asked !== undefined && !allowed;
    const responseTopic = allowed ? (asked as string) : this.opts.topics.reply(name);
    const correlationData = Buffer.isBuffer(props?.correlationData) ? props.correlationData : undefined;
    const actorProp = props?.userProperties?.actor;
    const ctx: Partial<CommandContext> = {};
    if (typeof actorProp === 'string') ctx.actor = actorProp.slice(0, 256);

    const reply = (body: Omit<CommandReply, 'schemaVersion' | 'ts' | 'device' | 'command'>): void => {
      const msg: CommandReply = {
        schemaVersion: SCHEMA_VERSION,
        ts: this.opts.now().toISOString(),
        device: this.opts.device,
        command: name.slice(0, 256),
        ...body,
      };
      const options: IClientPublishOptions = { qos: 1, retain: false };
      if (this.opts.protocolVersion === 5) {
        options.properties = { contentType: 'application/json', payloadFormatIndicator: true };
        if (correlationData) options.properties.correlationData = correlationData;
      }
      try {
        client.publish(responseTopic, JSON.stringify(msg), options, (err) => {
          if (err && (err as { code?: unknown }).code === undefined) this.counters.replyFailed++;
        });
        this.counters.replied++;
      } catch (err) {
        this.counters.replyFailed++;
        this.logRejection(name, 'reply_failed', (err as Error).message);
      }
    };
    const refuse = (code: CommandErrorCode, message: string, transaction?: string): void => {
      this.counters.rejected++;
      this.logRejection(name, code, message);
      reply({ status: 'error', error: { code, message }, ...(transaction !== undefined ? { transaction } : {}) });
    };

    try {
      // A retained command would run again on every reconnect: refuse it (it arrives flagged only on subscription).
      if (packet.retain) return refuse('invalid', 'retained commands are refused: publish commands with retain false');
      if (payload.length > this.opts.maxPayloadBytes)
        return refuse('too_large', `payload of ${payload.length} bytes exceeds the limit of ${this.opts.maxPayloadBytes} bytes`);
      // An empty message is also what clears a retained command: it must never run anything.
      if (payload.length === 0) return refuse('invalid', 'payload is empty: send a JSON object ({} for no arguments)');
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        return refuse('bad_json', `payload is not valid JSON: ${(err as Error).message}`);
      }
      const transaction = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as { transaction?: unknown }).transaction : undefined;
      const tx = typeof transaction === 'string' && transaction.length > 0 && transaction.length <= 128 ? transaction : undefined;
      if (refusedTopic) {
        this.counters.replyTopicRefused++;
        const shown = typeof asked === 'string' ? JSON.stringify(asked.slice(0, 256)) : 'that is not a string';
        return refuse(
          'invalid',
          `response topic ${shown} is outside the reply prefix "${this.opts.replyTopicPrefix}" (mqtt.commands.replyTopicPrefix) and ${ownReplies}: refused, the command did not run`,
          tx,
        );
      }
      if (!KNOWN.includes(name as CommandName)) return refuse('unknown_command', `unknown command "${name.slice(0, 64)}"; known: ${KNOWN.join(', ')}`, tx);
      const cmd = name as CommandName;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse('invalid', 'payload must be a JSON object', tx);
      const validate = commandValidator(cmd);
      if (!validate(body)) return refuse('invalid', describeErrors(validate.errors), tx);
      const handler = this.handlers.get(cmd);
      if (!handler) return refuse('not_available', `no handler for "${cmd}" in this runtime`, tx);
      if (this.active >= this.opts.maxConcurrent) return refuse('busy', `${this.active} commands are running; try again`, tx);
      const full: CommandContext = { ...ctx, name: cmd };
      if (tx !== undefined) full.transaction = tx;
      void this.run(handler, body as CommandPayloads[CommandName], full, reply);
    } catch (err) {
      // A bug here must not take the process down with it.
      this.counters.failed++;
      this.opts.logger.error({ command: name.slice(0, 64), err: (err as Error).message }, 'command handling failed');
    }
  }

  private async run(
    handler: CommandHandler,
    body: CommandPayloads[CommandName],
    ctx: CommandContext,
    reply: (b: Omit<CommandReply, 'schemaVersion' | 'ts' | 'device' | 'command'>) => void,
  ): Promise<void> {
    this.active++;
    let timer: NodeJS.Timeout | undefined;
    const tx = ctx.transaction !== undefined ? { transaction: ctx.transaction } : {};
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CommandError('timeout', `no answer from the handler within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      });
      const data = await Promise.race([Promise.resolve().then(() => handler(body, ctx)), timeout]);
      reply({ status: 'ok', ...tx, ...(data !== undefined ? { data } : {}) });
      this.audit(ctx, 'ok', { request: body });
    } catch (err) {
      this.counters.failed++;
      const code: CommandErrorCode = err instanceof CommandError ? err.code : 'failed';
      const message = (err instanceof Error ? err.message : String(err)) || 'handler failed';
      this.opts.logger.warn({ command: ctx.name, code, err: message }, 'command failed');
      reply({ status: 'error', ...tx, error: { code, message: message.slice(0, 4096) } });
      this.audit(ctx, 'error', { request: body, error: message.slice(0, 1024) });
    } finally {
      clearTimeout(timer);
      this.active--;
    }
  }

  private audit(ctx: CommandContext, outcome: 'ok' | 'error', detail: Record<string, unknown>): void {
    if (!this.opts.onHandled) return;
    Promise.resolve()
      .then(() => this.opts.onHandled!(ctx, outcome, detail))
      .catch((err: Error) => this.opts.logger.error({ command: ctx.name, err: err.message }, 'audit event for a command failed'));
  }

  private logRejection(name: string, code: string, message: string): void {
    const now = Date.now();
    if (now - this.logWindowStart > LOG_WINDOW_MS) {
      if (this.suppressed > 0) this.opts.logger.warn({ suppressed: this.suppressed }, 'more rejected commands were not logged');
      this.logWindowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged++ < LOG_BURST) this.opts.logger.warn({ command: name.slice(0, 64), code, err: message.slice(0, 512) }, 'command rejected');
    else this.suppressed++;
  }
}

function validReplyTopic(t: string): boolean {
  // MQTT forbids wildcards and NUL in a topic name (MQTT 5.0 §4.7.3).
  // eslint-disable-next-line no-control-regex
  return t.length > 0 && t.length < 1024 && !/[#+\u0000]/.test(t) && !t.startsWith('$');
}
