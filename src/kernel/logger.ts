import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * One root logger for the process: JSON lines on stdout (journald under systemd). Modules take a child with
 * `logger.child({ module: 'stage' })`. Secrets never reach a log line: the redact list covers every config field that
 * can hold one, wherever it appears in a logged object.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.SMARTSCOPE_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      // Config secrets are Secret objects that print as "[secret]" anyway; this covers values typed into option
      // objects by hand (client options, request headers) at the depths they are logged at.
      paths: ['password', 'passphrase', 'privateKey', 'token', 'secret', 'key', 'authorization'].flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
      censor: '[redacted]',
    },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything: for tests and library use where the caller passes none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
