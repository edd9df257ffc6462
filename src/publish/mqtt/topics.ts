/**
 * The topic layout under `<prefix>/<site>/<line>/<device>/` (docs/mqtt-api.md, docs/asyncapi.yaml). Records in the
 * outbox carry topics relative to this base, so a changed prefix or device id applies to what is still queued.
 */
import type { DeviceRef } from '../payloads.js';

export const relativeTopics = {
  status: 'status',
  stats: 'stats',
  defect: 'events/defect',
  scan: 'events/scan',
  alarm: 'events/alarm',
  audit: 'events/audit',
  thumbnail: (id: string): string => `thumbnails/${id}`,
  reportImage: (id: string): string => `images/${id}`,
  command: (name: string): string => `cmd/${name}`,
  reply: (name: string): string => `reply/${name}`,
} as const;

export class Topics {
  readonly base: string;

  constructor(prefix: string, device: DeviceRef) {
    this.base = `${prefix}/${device.site}/${device.line}/${device.id}`;
  }

  /** Full topic of a relative one. */
  full(relative: string): string {
    return `${this.base}/${relative}`;
  }

  get status(): string {
    return this.full(relativeTopics.status);
  }

  get stats(): string {
    return this.full(relativeTopics.stats);
  }

  /** Subscription for every command. */
  get commandFilter(): string {
    return this.full('cmd/+');
  }

  reply(name: string): string {
    return this.full(relativeTopics.reply(name));
  }

  /** The command name of a full command topic, or undefined when the topic is not one. */
  commandName(topic: string): string | undefined {
    const head = `${this.base}/cmd/`;
    if (!topic.startsWith(head)) return undefined;
    const name = topic.slice(head.length);
    return name.length > 0 && !name.includes('/') ? name : undefined;
  }
}
