/**
 * A one-line progress bar on stderr for long work, shown only when stderr is a terminal and output is not --json, so
 * scripts and journald never see carriage-return noise.
 */
export interface Progress {
  update(label: string, done: number, total: number): void;
  finish(): void;
}

export function progressBar(enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { update: () => {}, finish: () => {} };
  let shown = false;
  return {
    update(label, done, total) {
      const width = 24;
      const f = total > 0 ? Math.min(1, done / total) : 1;
      const fill = Math.round(f * width);
      process.stderr.write(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(Math.round(f * 100)).padStart(3)}% ${label}\x1b[K`);
      shown = true;
    },
    finish() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
