/**
 * Audit records are written to the records database first (by the daemon and by `smartscope model …` commands run
 * over SSH, which have no broker connection), then handed to the event sink in order. A row is marked published only
 * after the sink has made the event durable, so a crash in between publishes it again (at least once, like every
 * other event).
 */
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { AuditRow, Records } from '../records/records.js';

/** What the relay needs from the event sink (the MQTT EventSink's `audit()` has this shape). */
export interface AuditPublisher {
  audit(event: {
    action: string;
    actor: { kind: 'mqtt' | 'ssh' | 'local' | 'system'; id?: string };
    outcome: 'ok' | 'error';
    details?: Record<string, unknown>;
  }): Promise<unknown>;
}

export function auditEvent(r: AuditRow): Parameters<AuditPublisher['audit']>[0] {
  const kind = r.origin.startsWith('ssh') ? 'ssh' : r.via === 'daemon' ? 'system' : 'local';
  return {
    action: r.action,
    actor: { kind, id: r.user },
    outcome: r.outcome === 'ok' ? 'ok' : 'error',
    details: { auditId: r.id, at: r.at, from: r.origin, via: r.via, result: r.outcome, ...(r.subject ? { subject: r.subject } : {}), ...(r.details ?? {}) },
  };
}

export class AuditRelay {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly records: Records,
    private readonly sink: AuditPublisher,
    private readonly intervalMs: number,
    private readonly log?: Logger,
    private readonly metrics?: Metrics,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    void this.flush();
  }

  /** Publishes what is pending; concurrent calls share one pass. */
  flush(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const rows = this.records.pendingAudit(50);
      if (rows.length === 0) return;
      for (const r of rows) {
        try {
          await this.sink.audit(auditEvent(r));
        } catch (err) {
          this.log?.warn({ auditId: r.id, err: (err as Error).message }, 'audit event not accepted by the event sink; will retry');
          return;
        }
        this.records.markAuditPublished([r.id]);
        this.metrics?.auditPublished.inc();
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
