/** Where a frame's memory comes from: a JS ring, or the native pool when the addon provides one. */
export interface FramePool {
  /** A free buffer of at least `pixels` elements of the sensor's type, or null when all are in use. */
  acquire(): { data: Uint8Array | Uint16Array; release(): void } | null;
  readonly size: number;
}
