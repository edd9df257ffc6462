/**
 * Keeps instrument time from moving while `work` runs: how the stage says "bytes are on the wire".
 *
 * The twin's SimClock advances only by jumping to the earliest pending sleep, and I/O costs no instrument time. But a
 * command on its way to a firmware simulator over a pty takes real microseconds to milliseconds and is no sleep: the
 * clock could jump past the moment the controller should have received it (a move would start late, a homing time-out
 * would fire before `$H` arrived). The clock's `hold()` keeps time still until the work is done. RealClock needs
 * nothing.
 */
import type { Clock } from '../kernel/clock.js';

export async function holdTime<T>(clock: Clock, work: () => Promise<T>): Promise<T> {
  if (!clock.simulated || !clock.hold) return work();
  return clock.hold(work);
}
