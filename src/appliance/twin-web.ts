/**
 * The web page beside a scan run outside the daemon (`smartscope demo`, the browser tests, bench:ui): records in the
 * run's folder so the gallery and history have something to read, and the same control commands the daemon's socket
 * registers, bound to the scan in progress and recorded as operator commands.
 */
import { join } from 'node:path';
import { ControlServer } from '../ops/control-socket.js';
import type { Logger } from '../kernel/logger.js';
import { packageVersion } from '../kernel/paths.js';
import { ImageStore } from '../records/images.js';
import { Records } from '../records/records.js';
import { recordsScanRecorder } from './scan-recorder.js';
import type { ScanControl } from '../scan/control.js';
import type { ScanDeps } from '../scan/run.js';
import type { Config } from '../config/schema.js';
import type { WebConfig } from '../web/config.js';
import { WebPage } from '../web/page.js';

export interface TwinWeb {
  page: WebPage;
  url: string;
  records: Records;
  control: ControlServer;
  /** The scan's devices and ports, recorded and observed by the page. */
  wrapDeps<T extends ScanDeps>(d: T): T;
  /** The scan now running (pause / resume / abort act on it). */
  attach(control: ScanControl | null): void;
  close(): Promise<void>;
}

export async function startTwinWeb(o: { config: WebConfig; stateDir: string; logger: Logger; device: string; status?: () => unknown }): Promise<TwinWeb> {
  const log = o.logger.child({ module: 'web' });
  const records = Records.open({ path: join(o.stateDir, 'records.db') });
  const images = new ImageStore(join(o.stateDir, 'images'), records);
  const recorder = recordsScanRecorder(records, images, { device: o.device, softwareVersion: packageVersion(), logger: o.logger });
  const control = new ControlServer(join(o.stateDir, 'control.sock'), log, (actor, command, args, outcome, detail) =>
    records.command(actor, command, args, outcome, detail),
  );
  let current: ScanControl | null = null;
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  control.handle('scan-pause', () => (current?.pause() ? { state: current.state } : fail('no scan is running')));
  control.handle('scan-resume', () => (current?.resume() ? { state: current.state } : fail('no scan is paused')));
  control.handle('scan-abort', (a, actor) =>
    current?.abort(typeof a.reason === 'string' ? a.reason : `aborted by ${actor.user} (${actor.from})`)
      ? { state: current.state }
      : fail('no scan is running'),
  );
  const page = new WebPage(o.config, log);
  const listening = page.listen({
    records,
    servedRoots: [o.stateDir],
    control,
    status: o.status,
    queue: () => ({ current: page.view.current.context, state: current?.state ?? 'idle' }),
  });
  let url: string;
  try {
    url = await listening;
  } catch (err) {
    records.close();
    throw err;
  }
  return {
    page,
    url,
    records,
    control,
    wrapDeps: (d) => page.view.deps({ ...d, recorder: d.recorder ?? recorder }),
    attach: (c) => {
      current = c;
    },
    close: async () => {
      await page.close();
      records.close();
    },
  };
}

/** `smartscope demo`'s page: on the configured port, or any free port when that one is busy (printed either way). */
export async function startDemoWeb(cfg: Config, runDir: string, logger: Logger, port?: number): Promise<TwinWeb | null> {
  if (!cfg.web.enabled) return null;
  const d = cfg.device;
  const start = (p: number): Promise<TwinWeb> =>
    startTwinWeb({
      config: { ...cfg.web, port: p },
      stateDir: runDir,
      logger,
      device: `${d.site}/${d.line}/${d.id}`,
      status: () => ({ status: 'ok', step: 'demo on the digital twin', checks: {} }),
    });
  try {
    return await start(port ?? cfg.web.port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return start(0);
  }
}
