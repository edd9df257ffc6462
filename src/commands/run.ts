/**
 * `smartscope run`: the appliance daemon, as started by systemd (systemd/smartscope.service, Type=notify).
 *
 * Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 3 when start-up or a running part fails (systemd restarts it),
 * 78 when the config is invalid (the unit's RestartPreventExitStatus keeps systemd from retrying a hopeless start).
 * SIGHUP re-reads which models are active.
 */
import type { Command } from 'commander';
import { createApplianceParts } from '../app.js';
import { ConfigError } from '../kernel/validate.js';
import { assertCrossField } from '../config/checks.js';
import { EXIT } from '../exit-codes.js';
import { Appliance } from '../appliance/appliance.js';
import { createLogger } from '../kernel/logger.js';
import { createNotifier } from '../ops/notifier.js';
import { loadConfig } from './config.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the appliance daemon: camera, stage, broker, models, pipeline; health on /healthz and /metrics')
    .option('--notify <how>', 'sd_notify transport: auto (native addon, else systemd-notify) or command (systemd-notify)', 'auto')
    .action(async (opts: { notify: string }) => {
      const warnings: string[] = [];
      const config = loadConfig(program, warnings);
      // What would fail at start, and again on every restart, is a config error now (exit 78).
      assertCrossField(config);
      const log = createLogger({ level: config.logging.level });
      const runLog = log.child({ module: 'run' });
      for (const w of warnings) runLog.warn({ warning: w }, 'config');
      const notifier = createNotifier(process.env, log.child({ module: 'notify' }), opts.notify === 'command' ? 'command' : 'auto');
      runLog.info({ notifier: notifier.kind }, 'starting');
      let parts;
      try {
        parts = await createApplianceParts(config, log);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        runLog.fatal({ err: err.message }, 'invalid configuration');
        await notifier.notify({ STATUS: `invalid configuration: ${err.message}` });
        throw err;
      }
      const app = new Appliance(config, parts, log, notifier);

      let resolveDone!: (code: number) => void;
      const done = new Promise<number>((r) => (resolveDone = r));
      const stop = (reason: string, code: number): void => {
        const guard = setTimeout(() => {
          runLog.fatal({ reason }, `clean shutdown took longer than ${config.appliance.shutdownTimeoutS} s; exiting`);
          process.exit(EXIT.error);
        }, config.appliance.shutdownTimeoutS * 1000);
        guard.unref();
        app.stop(reason).finally(() => resolveDone(code));
      };
      process.once('SIGTERM', () => stop('SIGTERM', EXIT.ok));
      process.once('SIGINT', () => stop('SIGINT', EXIT.ok));
      process.on('SIGHUP', () => void app.checkModels());
      process.on('uncaughtException', (err) => {
        runLog.fatal({ err: err.message, stack: err.stack }, 'uncaught exception');
        stop('uncaught exception', EXIT.error);
      });
      process.on('unhandledRejection', (err) => {
        runLog.fatal({ err: String((err as Error)?.message ?? err) }, 'unhandled rejection');
        stop('unhandled rejection', EXIT.error);
      });

      const readyTimeout = new Promise<never>((_, reject) => {
        const t = setTimeout(
          () => reject(new Error(`start-up did not finish within ${config.appliance.readyTimeoutS} s`)),
          config.appliance.readyTimeoutS * 1000,
        );
        t.unref();
      });
      try {
        await Promise.race([app.start(), readyTimeout]);
      } catch (err) {
        const msg = (err as Error).message;
        runLog.fatal({ err: msg }, 'start-up failed');
        await notifier.notify({ STATUS: `start-up failed: ${msg}` });
        process.stderr.write(`smartscope: start-up failed: ${err instanceof ConfigError ? 'invalid configuration: ' : ''}${msg}\n`);
        // A config problem found while starting (a TLS file that is not there, a device mix that cannot work) will
        // not go away on a restart: EX_CONFIG, which the unit does not restart.
        stop('start-up failed', err instanceof ConfigError ? EXIT.config : EXIT.error);
      }
      // Worker threads, sockets and timers are all closed by now; exit explicitly so no stray handle keeps a stopped
      // daemon alive.
      process.exit(await done);
    });
}
