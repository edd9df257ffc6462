/**
 * Progress for long commands: a redrawn bar on a TTY, nothing on pipes and in --json mode (scripts parse stdout;
 * progress goes to stderr).
 */
export interface Progress {
  update(done: number, total: number, note?: string): void;
  done(message?: string): void;
}

export function progress(label: string, opts: { enabled?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const enabled = (opts.enabled ?? true) && stream.isTTY === true;
  const t0 = Date.now();
  let last = 0;
  return {
    update(done, total, note) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const fill = Math.round(frac * width);
      const eta = done > 0 ? ((now - t0) / done) * (total - done) : 0;
      stream.write(
        `\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${eta > 0 ? ` eta ${Math.ceil(eta / 1000)}s` : ''}${note ? ` ${note}` : ''}\x1b[K`,
      );
    },
    done(message) {
      if (!enabled) return;
      stream.write(`\r\x1b[K${message ? `${message}\n` : ''}`);
    },
  };
}
