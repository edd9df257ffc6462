/**
 * The web page as one part the daemon and the demo start: the live view, the view of the scan in progress, and the
 * HTTP server over them. The scan's devices and ports go through `view.deps()` so the page sees what the scan does.
 */
import type { Logger } from '../kernel/logger.js';
import type { WebConfig } from './config.js';
import { LiveView } from './live.js';
import { ScanView } from './scan-view.js';
import { WebServer, type WebServerOptions } from './server.js';

export class WebPage {
  readonly live: LiveView;
  readonly view: ScanView;
  server: WebServer | null = null;
  url: string | null = null;

  constructor(
    readonly config: WebConfig,
    private readonly log: Logger,
  ) {
    this.live = new LiveView(config.live);
    this.view = new ScanView(this.live, config.live.jpegQuality);
  }

  /** Starts serving; returns the page's address. */
  async listen(o: Omit<WebServerOptions, 'config' | 'logger' | 'view' | 'live'>): Promise<string> {
    this.server = new WebServer({ ...o, config: this.config, logger: this.log, view: this.view, live: this.live });
    const a = await this.server.listen();
    this.url = a.url;
    if (!/^(127\.|::1$|localhost$)/.test(a.address)) {
      this.log.warn({ address: a.address }, 'the web page is served beyond this machine');
      if (!this.config.auth.passwordHash && !this.config.auth.tokenHash) this.log.warn('no web.auth password or token: the page is read-only');
    }
    this.log.info({ url: a.url }, 'web page');
    return a.url;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
