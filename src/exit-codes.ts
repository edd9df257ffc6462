/**
 * Exit codes of every `smartscope` command (docs/cli.md):
 *   0 success · 1 the work ran and found a failure (config check found problems, a bundle was refused, a doctor check
 *   failed) · 2 usage error (unknown command or option) · 3 runtime error (device, file, broker) ·
 *   78 the config file is invalid (EX_CONFIG from sysexits.h; the systemd unit does not restart on it).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, error: 3, config: 78 } as const;
