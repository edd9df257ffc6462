/**
 * The error convention (after serialport): errors are `Error`s with marker fields rather than class trees.
 * - A value that does not fit names where it was, what it was and what was expected: {@link ValueIssue} (the config
 *   and recipe loaders throw a `ConfigError` holding a list of them, src/kernel/validate.ts).
 * - A device fault — something a person fixes at the instrument: a pulled cable, power, a jam, an alarm — carries
 *   `device` naming the device, and the port's markers: `disconnected`, `timeout`, `canceled`. Each port's error
 *   factory (cameraError, stageError) sets the marker; nothing else does. A full disk (ENOSPC), a permission
 *   (EACCES), a refused model bundle or a bug is not a device fault, whatever `code` it carries.
 */

export interface ValueIssue {
  /** Where the value was: a dotted path (`stage.axes.x.stepsPerUm`), a file, an argument name. */
  path: string;
  value: unknown;
  /** What would have been accepted, in words. */
  expected: string;
}

/** The devices a scan drives. */
export type DeviceKind = 'camera' | 'stage' | 'nosepiece';

export interface DeviceMarks {
  /** The caller (or a close) cancelled the operation; not a fault. */
  canceled?: boolean;
  /** The link to the device is gone (cable, power, port closed). */
  disconnected?: boolean;
  /** The device did not answer in time. */
  timeout?: boolean;
}

export interface DeviceError extends Error, DeviceMarks {
  readonly device: DeviceKind;
}

/** An error from `device` with the port's markers (and any extra fields the port defines). */
export function deviceError<M extends DeviceMarks>(device: DeviceKind, message: string, marks: M): DeviceError & M {
  return Object.assign(new Error(message), marks, { device });
}

export function isDeviceError(err: unknown): err is DeviceError {
  return err instanceof Error && typeof (err as Partial<DeviceError>).device === 'string';
}

/** A device error that is not a cancellation: the operation should wait for a person, not fail. */
export function isDeviceFault(err: unknown): err is DeviceError {
  return isDeviceError(err) && err.canceled !== true;
}
