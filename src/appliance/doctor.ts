/**
 * `smartscope doctor`: one check per thing that must work on a microscope — camera, stage, broker, models, disk
 * space, clock — each with a clear pass/fail and, when it fails, a hint for the technician.
 *
 * When the daemon is running it holds the camera and the stage, so their state is read from its /healthz instead of
 * opening the devices a second time.
 */
import { existsSync, statfsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FrameSource } from '../camera/frame-source.js';
import type { Config } from '../config/schema.js';
import { loadTrustedKeys } from '../bundles/keys.js';
import { ModelStore } from '../bundles/store.js';
import { BundleRefused } from '../bundles/verify.js';
import type { Stage } from '../stage/stage.js';
import { packageRoot } from '../kernel/paths.js';
import { withTimeout } from '../kernel/timeout.js';
import { statePaths } from '../ops/state-paths.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface DoctorCheck {
  name: 'config' | 'camera' | 'stage' | 'broker' | 'models' | 'disk' | 'clock';
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorDevices {
  camera(): FrameSource | Promise<FrameSource>;
  stage(): Stage | Promise<Stage>;
}

const pass = (name: DoctorCheck['name'], detail: string): DoctorCheck => ({ name, status: 'pass', detail });
const fail = (name: DoctorCheck['name'], detail: string, hint: string): DoctorCheck => ({ name, status: 'fail', detail, hint });

/** The running daemon's /healthz, or null when no daemon answers. */
export async function daemonHealth(config: Config): Promise<Record<string, unknown> | null> {
  if (!config.health.enabled) return null;
  try {
    const r = await fetch(`http://${config.health.host}:${config.health.port}/healthz`, { signal: AbortSignal.timeout(1500) });
    return (await r.json()) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function checkCamera(devices: DoctorDevices, health: Record<string, unknown> | null): Promise<DoctorCheck> {
  const hint = 'check power and cable; GigE cameras: `arv-tool-0.8` lists them; V4L2: is /dev/video* present and is the service user in group video?';
  const fromDaemon = (health?.checks as Record<string, { ok: boolean; detail: string }> | undefined)?.camera;
  if (fromDaemon)
    return fromDaemon.ok
      ? pass('camera', `${fromDaemon.detail} (from the running daemon)`)
      : fail('camera', `${fromDaemon.detail} (from the running daemon)`, hint);
  let cam: FrameSource | undefined;
  try {
    cam = await devices.camera();
    if (cam.state !== 'open') await withTimeout(cam.open(), 10_000, 'camera');
    const t0 = performance.now();
    const f = await cam.grab({ timeoutMs: 10_000 });
    const ms = performance.now() - t0;
    const detail = `${cam.info().id}: ${f.width}×${f.height} ${f.pixelFormat} frame in ${ms.toFixed(0)} ms`;
    f.release();
    return pass('camera', detail);
  } catch (err) {
    return fail('camera', (err as Error).message, hint);
  } finally {
    await cam?.close().catch(() => {});
  }
}

export async function checkStage(devices: DoctorDevices, health: Record<string, unknown> | null): Promise<DoctorCheck> {
  const hint = 'check the controller power and the serial cable and port; is the service user in group dialout? An alarm needs homing.';
  const fromDaemon = (health?.checks as Record<string, { ok: boolean; detail: string }> | undefined)?.stage;
  if (fromDaemon)
    return fromDaemon.ok
      ? pass('stage', `${fromDaemon.detail} (from the running daemon)`)
      : fail('stage', `${fromDaemon.detail} (from the running daemon)`, hint);
  let stage: Stage | undefined;
  try {
    stage = await devices.stage();
    await withTimeout(stage.connect(), 10_000, 'stage controller');
    const p = await withTimeout(stage.position(), 10_000, 'stage controller');
    return pass('stage', `${stage.id}: ${stage.state} at x ${p.x.toFixed(1)} µm, y ${p.y.toFixed(1)} µm, z ${p.z.toFixed(1)} µm`);
  } catch (err) {
    return fail('stage', (err as Error).message, hint);
  } finally {
    await stage?.close().catch(() => {});
  }
}

export async function checkBroker(config: Config): Promise<DoctorCheck> {
  const url = (config.mqtt as { url?: string } | undefined)?.url;
  if (!url)
    return { name: 'broker', status: 'skip', detail: 'no broker configured (mqtt.url); events stay in the outbox', hint: 'set mqtt.url to the plant broker' };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail('broker', `mqtt.url ${url} is not a URL`, 'use mqtt://host:1883 or mqtts://host:8883');
  }
  const port = Number(u.port || (u.protocol === 'mqtts:' || u.protocol === 'tls:' || u.protocol === 'ssl:' ? 8883 : 1883));
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port, timeout: 5000 });
    const done = (c: DoctorCheck): void => {
      s.destroy();
      resolve(c);
    };
    s.once('connect', () => done(pass('broker', `${u.hostname}:${port} accepts connections (${(performance.now() - t0).toFixed(0)} ms)`)));
    s.once('timeout', () =>
      done(
        fail(
          'broker',
          `${u.hostname}:${port}: no answer within 5 s`,
          'is the broker up? is the port open in the plant firewall? (the unit allows private networks only: see IPAddressAllow)',
        ),
      ),
    );
    s.once('error', (e: NodeJS.ErrnoException) =>
      done(fail('broker', `${u.hostname}:${port}: ${e.code ?? e.message}`, 'check the broker host name and port in mqtt.url, DNS, and that the broker runs')),
    );
  });
}

export async function checkModels(config: Config): Promise<DoctorCheck> {
  const hint = 'install a signed bundle with `smartscope model install BUNDLE`, or return to the previous one with `smartscope model rollback`';
  const { keys, problems } = loadTrustedKeys(config.models.trustedKeysDir);
  if (keys.length === 0)
    return fail(
      'models',
      `no trusted signing key (${problems.join('; ') || `${config.models.trustedKeysDir} is empty`})`,
      `copy the bundle-signing public key (*.pub) into ${config.models.trustedKeysDir}`,
    );
  const store = new ModelStore(statePaths(config.appliance.stateDir).models, {
    keep: config.models.keep,
    trustedKeys: keys,
    trustedKeysDir: config.models.trustedKeysDir,
  });
  const roles = Object.entries(store.state().roles);
  if (roles.length === 0) return fail('models', 'no model is active', hint);
  const parts: string[] = [];
  for (const [role, e] of roles) {
    try {
      const v = await store.verifyInstalled(e!.id, true);
      parts.push(`${role}: ${e!.id} (signed by ${v.key.id}, golden set ${v.golden?.cases} cases ok)`);
    } catch (err) {
      if (!(err instanceof BundleRefused)) throw err;
      return fail('models', `${role}: ${e!.id}: ${err.message}`, hint);
    }
  }
  return pass('models', parts.join('; '));
}

export function checkDisk(config: Config): DoctorCheck {
  const dir = config.appliance.stateDir;
  try {
    const s = statfsSync(dir);
    const freeMb = (s.bavail * s.bsize) / 1024 / 1024;
    const need = config.records.retention.minFreeMb;
    const detail = `${(freeMb / 1024).toFixed(1)} GiB free on the volume of ${dir} (floor ${need} MiB)`;
    return freeMb >= need
      ? pass('disk', detail)
      : fail('disk', detail, 'retention deletes the oldest images first; lower records.retention.imagesMaxMb or free space on the volume');
  } catch (err) {
    return fail(
      'disk',
      `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'run scripts/install, or create the state folder owned by the smartscope user',
    );
  }
}

/** The clock must not be behind the software's build, and should be synchronised. */
export function checkClock(now = new Date(), syncFlag = '/run/systemd/timesync/synchronized'): DoctorCheck {
  let built: Date | null = null;
  try {
    built = statSync(join(packageRoot(), 'package.json')).mtime;
  } catch {
    // No build date to compare with.
  }
  if (built && now.getTime() < built.getTime() - 86_400_000) {
    return fail(
      'clock',
      `system time ${now.toISOString()} is before this software was installed (${built.toISOString()})`,
      'set the time and enable NTP (systemd-timesyncd or chrony): records and events carry timestamps',
    );
  }
  if (existsSync(syncFlag)) return pass('clock', `${now.toISOString()}, synchronised (systemd-timesyncd)`);
  return {
    name: 'clock',
    status: 'skip',
    detail: `${now.toISOString()}; synchronisation unknown (no ${syncFlag})`,
    hint: 'enable NTP (timedatectl set-ntp true) so record timestamps are right',
  };
}
