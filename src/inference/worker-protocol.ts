/** Messages between an OnnxDetector (main thread) and its ORT worker. */
import type { DetectionResult, PixelToStage } from './detector.js';
import type { ModelManifest } from './manifest.js';
import type { ProviderName } from './providers.js';

export interface LoadRequest {
  op: 'load';
  id: number;
  manifest: ModelManifest;
  /** ONNX bytes already checked against the manifest's sha256 (transferred). */
  modelBytes: Uint8Array;
  providers: ProviderName[];
  intraOpThreads: number;
  warmup: boolean;
}

export interface LoadReply {
  provider: ProviderName;
  /** Providers tried before, with the reason each failed. */
  failed: Array<{ provider: ProviderName; reason: string }>;
  warmupMs: number;
  loadMs: number;
}

export interface WireInput {
  kind: 'frame' | 'tensor';
  buffer: ArrayBufferLike;
  byteOffset: number;
  length: number;
  dtype: 'u8' | 'u16' | 'f32';
  width: number;
  height: number;
  bitDepth: number;
}

export interface DetectRequest {
  op: 'detect';
  id: number;
  input: WireInput;
  pixelSizeUm: number;
  pixelToStage?: PixelToStage;
  threshold: number;
  minAreaPx: number;
  closePx: number;
  tileOverlap: number;
  probabilityMap: number;
  masks: boolean;
}

export interface CloseRequest {
  op: 'close';
  id: number;
}

export type WorkerRequest = LoadRequest | DetectRequest | CloseRequest;

export interface WireError {
  message: string;
  badModel?: boolean;
  badInput?: boolean;
}

export type WorkerReply = { id: number; ok: true; load?: LoadReply; result?: Omit<DetectionResult, 'model'> } | { id: number; ok: false; error: WireError };
