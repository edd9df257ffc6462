/**
 * Checks across fields and against the file system, beyond what the schema says about one field: what `run` would
 * otherwise find only when it starts (and then again on every restart). `config check`, `doctor` and `run` apply
 * them; each problem names the field, the value and what would work.
 */
import { accessSync, constants } from 'node:fs';
import type { Config } from './schema.js';
import { ConfigError, type ConfigIssue } from '../kernel/validate.js';

export function crossFieldIssues(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const cam = config.camera;
  if (cam.queueDepth >= cam.poolSize) {
    issues.push({ path: 'camera.queueDepth', value: cam.queueDepth, expected: `less than camera.poolSize (${cam.poolSize}): a grab needs a free buffer` });
  }
  const mqtt = config.mqtt as { url?: string; tls?: { ca?: string; cert?: string; key?: string } };
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = mqtt.tls?.[k];
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      issues.push({ path: `mqtt.tls.${k}`, value: file, expected: `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` });
    }
  }
  if ((mqtt.tls?.cert === undefined) !== (mqtt.tls?.key === undefined)) {
    issues.push({
      path: mqtt.tls?.cert ? 'mqtt.tls.key' : 'mqtt.tls.cert',
      value: undefined,
      expected: 'a value: a client certificate needs both cert and key',
    });
  }
  issues.push(...instrumentIssues(config));
  return issues;
}

/** Twin or real: a real device beside a simulated twin clock cannot be honest (src/app.ts createInstrument). */
export function instrumentIssues(config: Config): ConfigIssue[] {
  const stage = config.stage as { driver: string };
  const real: string[] = [];
  if (config.camera.kind !== 'twin') real.push(`camera.kind "${config.camera.kind}"`);
  if (stage.driver !== 'twin') real.push(`stage.driver "${stage.driver}"`);
  if (real.length === 0 || real.length === 2 || config.twin.clock === 'real') return [];
  return [
    {
      path: 'twin.clock',
      value: config.twin.clock,
      expected: `"real": ${real.join(' and ')} is real hardware and runs in real time; a simulated twin clock beside it would end its waits at once and stamp events with instrument time (or make every device the twin's)`,
    },
  ];
}

/** Throws a ConfigError (exit 78 from `run`) listing every cross-field problem. */
export function assertCrossField(config: Config, source = 'config'): void {
  const issues = crossFieldIssues(config);
  if (issues.length > 0) throw new ConfigError(source, issues);
}
