/**
 * The device state machine behind the retained `status` topic (docs/mqtt-api.md "Status"):
 *
 *   starting → idle ⇄ scanning ⇄ paused, with faulted (a device needs a person) and aborting on the way back to idle,
 *   and from any of them stopping → stopped on a clean shutdown. `unknown` is only ever the last will's state.
 *
 * Every change is published at once (retained, QoS 1). A change the table does not allow is still published (the
 * status must say what is true) but counted and logged: it is a bug in whoever reported it.
 */
import type { ScopeState } from './payloads.js';

export const STATUS_TRANSITIONS: Readonly<Record<ScopeState, readonly ScopeState[]>> = {
  // A scan left running by a crash resumes as soon as the pipeline starts.
  starting: ['idle', 'scanning', 'faulted', 'stopping'],
  idle: ['scanning', 'faulted', 'stopping'],
  scanning: ['paused', 'faulted', 'aborting', 'idle', 'stopping'],
  paused: ['scanning', 'faulted', 'aborting', 'stopping'],
  faulted: ['scanning', 'paused', 'aborting', 'idle', 'stopping'],
  aborting: ['idle', 'scanning', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
  unknown: [],
};

/** Whether `from → to` is a transition of the machine (staying in a state is not a transition). */
export function isTransition(from: ScopeState, to: ScopeState): boolean {
  return STATUS_TRANSITIONS[from].includes(to);
}
