/**
 * GET /healthz (JSON; 200 when healthy, 503 otherwise) and GET /metrics (Prometheus text format) on a local port.
 * The listener binds to loopback by default: reach it over `ssh -L` or from a local Prometheus agent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from './metrics.js';

export type HealthStatus = 'starting' | 'ok' | 'degraded' | 'stopping' | 'failed';

export interface HealthCheck {
  ok: boolean;
  detail: string;
}

export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, HealthCheck>;
  [key: string]: unknown;
}

export class HealthServer {
  private server: Server | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly report: () => HealthReport,
    private readonly log?: Logger,
  ) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (url === '/healthz') {
        let r: HealthReport;
        try {
          r = this.report();
        } catch (err) {
          r = { status: 'failed', checks: { report: { ok: false, detail: (err as Error).message } } };
        }
        res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(r)}\n`);
        return;
      }
      if (url === '/metrics') {
        this.metrics
          .text()
          .then((text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text))
          .catch((err: Error) => {
            this.log?.error({ err: err.message }, 'metrics collection failed');
            res.writeHead(500).end();
          });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
