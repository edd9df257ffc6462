/**
 * Meanings of GRBL 1.1's `error:N` and `ALARM:N` codes, in our words, after the firmware's tables
 * (https://github.com/gnea/grbl/blob/master/doc/csv/error_codes_en_US.csv,
 * https://github.com/gnea/grbl/blob/master/doc/csv/alarm_codes_en_US.csv), and grblHAL's additions
 * (errors 18, 19 and 39 on, alarms 10 on: https://github.com/grblHAL/core, errors.c and alarms.c). Alarm 10 means
 * different things in Grbl 1.1h (dual-axis homing failed) and grblHAL (emergency stop).
 */
export const GRBL_ERRORS: Readonly<Record<number, string>> = {
  1: 'G-code word without a letter',
  2: 'number missing or malformed',
  3: "unknown or unsupported '$' system command",
  4: 'negative value where a positive one is required',
  5: 'homing is not enabled in the settings ($22)',
  6: 'step pulse time must be at least 3 µs',
  7: 'EEPROM read failed; defaults were restored',
  8: "'$' command refused while the controller is not idle",
  9: 'G-code is locked out in alarm or jog state',
  10: 'soft limits need homing to be enabled',
  11: 'line longer than the controller accepts; not executed',
  12: "'$' setting would exceed the maximum step rate",
  13: 'safety door open',
  14: 'build info or startup line too long for EEPROM',
  15: 'jog target beyond machine travel; jog ignored',
  16: "jog command without '=' or with a forbidden G-code",
  17: 'laser mode needs PWM output',
  18: 'reset asserted',
  19: 'value must be positive',
  20: 'unsupported or invalid G-code',
  21: 'two G-codes of the same modal group in one line',
  22: 'feed rate not set',
  23: 'G-code needs an integer value',
  24: 'two G-codes in one line both need the axis words',
  25: 'G-code word repeated in one line',
  26: 'G-code needs axis words but none were given',
  27: 'line number out of range',
  28: 'G-code is missing a required P or L value',
  29: 'work coordinate systems G59.1–G59.3 are not supported',
  30: 'G53 only works with G0 or G1',
  31: 'axis words given but nothing uses them (G80 active)',
  32: 'G2/G3 arc without axis words in the selected plane',
  33: 'invalid motion target',
  34: 'arc radius geometry cannot be computed',
  35: 'G2/G3 arc without offset words in the selected plane',
  36: 'unused G-code words left in the line',
  37: 'G43.1 tool length offset on an axis other than the configured one',
  38: 'tool number above the supported maximum',
  39: 'value out of range',
  40: 'command not allowed while a tool change is pending',
  41: 'spindle not running for a spindle-synchronised move',
  42: 'threading needs the ZX plane',
  43: 'feed rate above the maximum',
  44: 'spindle speed out of range',
  45: 'only homing is allowed while a limit switch is engaged',
  46: 'homing required before this command',
  47: 'current tool not set',
  48: 'value word conflict',
  49: 'power-on self test failed; a hard reset is required',
  50: 'emergency stop active',
  51: 'motor fault',
  52: 'setting value out of range',
  53: 'setting not available on this driver',
  54: 'retract position below the drill depth',
  55: 'two auto-squared axes cannot home at the same time',
  56: 'coordinate system is locked',
  57: 'unexpected file demarcation',
};

export const GRBL_ALARMS: Readonly<Record<number, string>> = {
  1: 'hard limit triggered; position likely lost, home again',
  2: 'motion target beyond machine travel (soft limit); position kept',
  3: 'reset while moving; position likely lost, home again',
  4: 'probe not in the expected state before probing',
  5: 'probe did not touch within the programmed travel',
  6: 'homing failed: reset during homing',
  7: 'homing failed: safety door opened',
  8: 'homing failed: pull-off did not clear the limit switch',
  9: 'homing failed: limit switch not found within the search distance',
  10: 'homing failed: second switch of a dual axis not found',
  11: 'homing required; home ($H) to continue',
  12: 'limit switch engaged; clear it before continuing',
  13: 'probe protection triggered',
  14: 'spindle did not reach speed in time',
  15: 'homing failed: second switch of an auto-squared axis not found',
  16: 'power-on self test failed',
  17: 'motor fault',
  18: 'homing failed: bad configuration',
};

/** grblHAL's meanings where they differ from Grbl 1.1's. */
const GRBLHAL_ALARMS: Readonly<Record<number, string>> = {
  10: 'emergency stop asserted; clear it, then reset',
};

/** Alarms after which the machine position cannot be trusted (only homing restores it). */
export const POSITION_LOST_ALARMS: ReadonlySet<number> = new Set([1, 3, 6, 7, 8, 9, 10, 11, 15, 16, 17, 18]);

/** Alarms after which the firmware ignores everything but a reset, once it has said `[MSG:Reset to continue]`. */
export const CRITICAL_ALARMS: ReadonlySet<number> = new Set([1, 2, 10]);

export function grblErrorText(code: number): string {
  return GRBL_ERRORS[code] ?? 'unknown error code';
}

export function grblAlarmText(code: number, firmware?: string): string {
  return (firmware === 'grblHAL' ? GRBLHAL_ALARMS[code] : undefined) ?? GRBL_ALARMS[code] ?? 'unknown alarm code';
}
