/**
 * V4L2 cameras (MIPI CSI sensors on the board, USB UVC cameras) behind the FrameSource port.
 *
 * The device streams continuously into memory-mapped driver buffers (native/src/v4l2-device.cc); where the driver's
 * format already is the frame's layout the driver buffer itself is the frame (no copy), otherwise the capture thread
 * unpacks it into a pool buffer. grab() takes the first frame whose exposure started after the call, using the
 * driver's start-of-exposure timestamp when it gives one.
 */
import type { Clock } from '../kernel/clock.js';
import { nativeAddon, type NativePixelFormat } from '../native/binding.js';
import { expectDimensions, expectNumber, expectOneOf, expectOptions, expectTypedArray } from '../native/expect.js';
import { NativeFrameSource } from './native-frame-source.js';

export const V4L2_FORMATS = ['GREY', 'Y10 ', 'Y12 ', 'Y16 ', 'Y10P', 'Y12P', 'YUYV'] as const;
export type V4l2Fourcc = (typeof V4L2_FORMATS)[number];

export interface V4l2SourceOptions {
  /** Device node. Default /dev/video0. */
  device?: string;
  /** Driver format; the deepest supported one (matching pixelFormat, when given) if absent. */
  fourcc?: V4l2Fourcc;
  pixelFormat?: NativePixelFormat;
  width?: number;
  height?: number;
  exposureUs?: number;
  gainDb?: number;
  /** Units of V4L2_CID_GAIN per dB (drivers use their own units). Default 1. */
  gainScale?: number;
  poolSize?: number;
  queueDepth?: number;
  clock?: Clock;
  defaultTimeoutMs?: number;
}

export function v4l2Available(): boolean {
  try {
    return nativeAddon().features.v4l2;
  } catch {
    return false;
  }
}

export class V4l2FrameSource extends NativeFrameSource {
  constructor(options: V4l2SourceOptions = {}) {
    const o = expectOptions<V4l2SourceOptions>(options);
    if (o.fourcc !== undefined) expectOneOf(o.fourcc, 'options.fourcc', V4L2_FORMATS);
    if (!v4l2Available()) throw new Error('V4L2 capture is only built on Linux');
    const { clock, defaultTimeoutMs, ...open } = o;
    const device = o.device ?? '/dev/video0';
    super(
      'v4l2',
      {
        id: device,
        kind: 'v4l2',
        ...(clock ? { clock } : {}),
        ...(defaultTimeoutMs !== undefined ? { defaultTimeoutMs } : {}),
      },
      { ...open, device },
    );
  }

  protected async startExposure(): Promise<void> {
    // Free-running: the frame whose exposure starts after the call is the answer.
  }
}

/**
 * Unpacks one V4L2 buffer into Mono8 (GREY, YUYV) or Mono12/Mono16 pixels (Y10, Y10P scaled ×4; Y12, Y12P; Y16), as
 * the capture thread does. Returns the output bit depth.
 */
export function unpackV4l2(
  fourcc: V4l2Fourcc,
  src: Uint8Array,
  width: number,
  height: number,
  bytesPerLine: number,
  out: Uint8Array | Uint16Array,
): 8 | 12 | 16 {
  expectOneOf(fourcc, 'fourcc', V4L2_FORMATS);
  expectTypedArray(src, 'src', ['Uint8Array'], 0, true);
  const n = expectDimensions(width, height);
  expectNumber(bytesPerLine, 'bytesPerLine', 1, 1 << 20, true);
  expectTypedArray(out, 'out', [fourcc === 'GREY' || fourcc === 'YUYV' ? 'Uint8Array' : 'Uint16Array'], n);
  return nativeAddon().v4l2Unpack(fourcc, src, width, height, bytesPerLine, out) as 8 | 12 | 16;
}
