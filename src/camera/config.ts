/**
 * Config section `camera`: which camera images the sample (the twin unless hardware is configured) and how its frame
 * pool is sized.
 */
import { bool, int, num, obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';
import { V4L2_FORMATS, type V4l2Fourcc } from './v4l2-source.js';

export const cameraSchema: Schema = obj('The camera: the twin (default), a GenICam camera through Aravis, or a V4L2 device.', {
  kind: oneOf('Which camera.', ['twin', 'genicam', 'v4l2'] as const, 'twin'),
  poolSize: int('Frame buffers: frames held by the pipeline plus those the device is filling.', 4, 2, 64),
  queueDepth: int('Finished frames kept for grabs before the oldest is dropped (less than poolSize).', 2, 1, 63),
  exposureUs: num('Exposure time at start.', 2000, 1, 1e8, 'µs'),
  gainDb: num('Gain at start.', 0, 0, 48, 'dB'),
  grabTimeoutMs: int('Real-time limit for a frame to arrive when the caller sets none.', 5000, 10, 600_000, 'ms'),
  genicam: obj('GenICam camera (kind genicam).', {
    id: str('Camera id (vendor-serial), IP address, or Fake_<serial> for Aravis’ in-process fake camera; the first camera found when left out.'),
    pixelFormat: oneOf('Pixel format read out.', ['Mono8', 'Mono12', 'Mono16'] as const, 'Mono12'),
    width: int('Region width (left out: the camera’s current setting).', undefined, 1, 65535, 'px'),
    height: int('Region height.', undefined, 1, 65535, 'px'),
    offsetX: int('Region left edge.', undefined, 0, 65535, 'px'),
    offsetY: int('Region top edge.', undefined, 0, 65535, 'px'),
    trigger: oneOf(
      'software: every grab triggers its own exposure; hardware: an input line triggers; free-run: the camera streams at frameRate.',
      ['software', 'hardware', 'free-run'] as const,
      'software',
    ),
    triggerSource: str('Input line for the hardware trigger.', 'Line0', { minLength: 1 }),
    frameRate: num('Frame rate in free-run.', undefined, 0.01, 10_000, 'Hz'),
    packetSize: int('GigE Vision packet size (left out: the camera’s).', undefined, 576, 16_384, 'bytes'),
    latencyMarginUs: num(
      'Free-run and hardware trigger: how much earlier than arrival − exposure a frame may have started (left out: one frame period).',
      undefined,
      0,
      1e8,
      'µs',
    ),
  }),
  v4l2: obj('V4L2 device (kind v4l2).', {
    device: str('Device node.', '/dev/video0', { pattern: '^/dev/' }),
    fourcc: oneOf('Driver pixel format (left out: the deepest one offered).', V4L2_FORMATS),
    width: int('Frame width (left out: the driver’s current setting).', undefined, 1, 65535, 'px'),
    height: int('Frame height.', undefined, 1, 65535, 'px'),
    gainScale: num('Units of the driver’s gain control per dB.', 1, 1e-6, 1e6),
  }),
  twin: obj('Twin camera (kind twin).', {
    nativePool: bool('Render into the addon’s frame pool (push source) when the addon is built.', true),
    readoutMs: num('Sensor readout time after each exposure.', 10, 0, 1000, 'ms'),
  }),
});

export interface CameraConfig {
  kind: 'twin' | 'genicam' | 'v4l2';
  poolSize: number;
  queueDepth: number;
  exposureUs: number;
  gainDb: number;
  grabTimeoutMs: number;
  genicam: {
    id?: string;
    pixelFormat: 'Mono8' | 'Mono12' | 'Mono16';
    width?: number;
    height?: number;
    offsetX?: number;
    offsetY?: number;
    trigger: 'software' | 'hardware' | 'free-run';
    triggerSource: string;
    frameRate?: number;
    packetSize?: number;
    latencyMarginUs?: number;
  };
  v4l2: { device: string; fourcc?: V4l2Fourcc; width?: number; height?: number; gainScale: number };
  twin: { nativePool: boolean; readoutMs: number };
}
