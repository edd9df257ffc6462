/**
 * Config sections `appliance` (the daemon's own settings) and `health` (the local HTTP endpoint).
 */
import { absPath, bool, int, num, obj, str, type Schema } from '../kernel/schema-kit.js';

export const applianceSchema: Schema = obj('The appliance daemon (`smartscope run`) and the files it keeps.', {
  stateDir: absPath(
    'Writable state: models/ (installed bundles), records.db (SQLite records), images/. systemd creates it (StateDirectory=smartscope).',
    '/var/lib/smartscope',
  ),
  shutdownTimeoutS: num(
    'Longest clean shutdown after SIGTERM before the daemon gives up waiting and exits (keep below the unit’s TimeoutStopSec).',
    20,
    1,
    300,
    's',
  ),
  readyTimeoutS: num('Longest start-up (camera, stage, broker attempt, models) before the daemon gives up and exits with an error.', 120, 5, 3600, 's'),
});

export const healthSchema: Schema = obj('Health and metrics HTTP endpoint (/healthz, /metrics).', {
  enabled: bool('Serve /healthz and /metrics.', true),
  host: str('Address to listen on. Keep it on loopback; expose it through an SSH tunnel or a reverse proxy.', '127.0.0.1', {
    format: 'ipv4',
    'x-expect': 'an IPv4 address such as 127.0.0.1',
  }),
  port: int('TCP port.', 9273, 1, 65535),
  staleFrameS: num('/healthz reports "degraded" when the pipeline has made no progress for this long.', 60, 1, 86_400, 's'),
});

export interface ApplianceConfig {
  stateDir: string;
  shutdownTimeoutS: number;
  readyTimeoutS: number;
}

export interface HealthConfig {
  enabled: boolean;
  host: string;
  port: number;
  staleFrameS: number;
}
