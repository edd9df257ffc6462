/**
 * Keeps instrument time from moving while `work` runs: how the stage says "bytes are on the wire".
 *
 * The twin's SimClock advances only by jumping to the earliest pending sleep, and I/O costs no instrument time. But a
 * command on its way to a firmware simulator over a pty takes real microseconds to milliseconds and is no sleep: the
 * clock could jump past the moment the controller should have received it (a move would start late, a homing time-out
 * would fire before `$H` arrived). Holding keeps a zero-length sleep pending at every turn, so the earliest deadline
 * is always "now" until the work is done. RealClock needs nothing.
 */
import type { Clock } from '../ops/clock.js';

export async function holdTime<T>(clock: Clock, work: () => Promise<T>): Promise<T> {
  if (!clock.simulated) return work();
  let held = true;
  void (async () => {
    while (held) await clock.sleep(0);
  })();
  try {
    return await work();
  } finally {
    held = false;
  }
}
