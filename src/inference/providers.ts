/**
 * Execution providers: the config lists them in order of preference (e.g. tensorrt, cuda, cpu); the session is created
 * with the first that loads, the others that failed are logged with the reason, and one log line names the provider
 * in use.
 *
 * TensorRT builds an engine per model, GPU, TensorRT version and precision, which takes minutes on a Jetson: the engine
 * cache directory is keyed by all four so a model update, a board swap or a JetPack upgrade never loads a stale engine.
 * onnxruntime-node passes only `deviceId` to the TensorRT provider, so the cache is configured through the provider's
 * documented environment variables (ORT_TENSORRT_ENGINE_CACHE_ENABLE, ORT_TENSORRT_CACHE_PATH, ORT_TENSORRT_FP16_ENABLE;
 * https://onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html#environment-variables) which the
 * provider reads when the session is created. They are process-wide, so sessions are created one at a time
 * (see `createSessionSerialised`).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type ProviderName = 'tensorrt' | 'cuda' | 'cpu';

export interface TensorRtSettings {
  cacheDir: string;
  precision: 'fp32' | 'fp16';
  /** Overrides the detected GPU name / TensorRT version in the cache key (e.g. for tests). */
  device?: string;
  version?: string;
}

/** The ORT `executionProviders` list when starting from provider `i` of `order`: that one, then the rest as fallback for nodes it cannot run. */
export function providerChain(order: readonly ProviderName[], i: number): ProviderName[] {
  return order.slice(i);
}

function sanitise(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'unknown';
}

/** GPU name: the Jetson's device-tree model, else the first NVIDIA GPU's name from /proc/driver/nvidia. */
export function detectGpuName(root = '/'): string {
  try {
    const dt = join(root, 'proc/device-tree/model');
    if (existsSync(dt)) return readFileSync(dt, 'utf8').replace(/\0/g, '').trim();
    const gpus = join(root, 'proc/driver/nvidia/gpus');
    if (existsSync(gpus)) {
      for (const id of readdirSync(gpus)) {
        const info = readFileSync(join(gpus, id, 'information'), 'utf8');
        const m = /^Model:\s*(.+)$/m.exec(info);
        if (m) return m[1]!.trim();
      }
    }
  } catch {
    // fall through: unknown device
  }
  return 'unknown-gpu';
}

/** TensorRT version from the installed libnvinfer (e.g. libnvinfer.so.8.6.2), else 'unknown'. */
export function detectTensorRtVersion(libDirs = ['/usr/lib/aarch64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/usr/local/tensorrt/lib']): string {
  for (const d of libDirs) {
    try {
      for (const f of readdirSync(d)) {
        const m = /^libnvinfer\.so\.(\d+\.\d+\.\d+)/.exec(f);
        if (m) return m[1]!;
      }
    } catch {
      // not there
    }
  }
  return 'unknown';
}

/** Engine cache folder for one model on one board: <cacheDir>/<sha256>/<device>-trt<version>-<precision>. */
export function tensorRtCachePath(s: TensorRtSettings, sha256: string): string {
  const device = sanitise(s.device ?? detectGpuName());
  const version = sanitise(s.version ?? detectTensorRtVersion());
  return join(s.cacheDir, sha256, `${device}-trt${version}-${s.precision}`);
}

/** The environment the TensorRT provider reads at session creation. */
export function tensorRtEnv(s: TensorRtSettings, sha256: string): Record<string, string> {
  return {
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: tensorRtCachePath(s, sha256),
    ORT_TENSORRT_FP16_ENABLE: s.precision === 'fp16' ? '1' : '0',
  };
}

/** Short reason from an ORT provider error ("Failed to load shared library" and the like). */
export function providerFailure(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .split('\n')[0]!
    .replace(/^\S*OrtSessionOptionsAppendExecutionProvider_\w+:\s*/, '')
    .slice(0, 200);
}
