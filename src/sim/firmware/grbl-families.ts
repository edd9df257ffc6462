/**
 * What tells the GRBL-family firmwares apart on the wire, for the simulator: the startup banner and the lines around
 * it, what `$I` reports, the receive buffer and what an empty one reads as in `Bf:`, how long after a critical alarm
 * `[MSG:Reset to continue]` comes, whether feed hold stops a jog, the homed flag in status reports, and what a fresh
 * link finds on the line.
 *
 * Sources: gnea/grbl 1.1h (doc/markdown/interface.md, commands.md, jogging.md); grblHAL/core (report.c for the
 * banner, `$I` lines and the `H:` status field; alarms.c and errors.c for the codes above Grbl's own); Grbl_ESP32's
 * and FluidNC's startup reports as hosts see them (cncjs and other senders match their banners). The reset-message
 * delays are measured on boards (Grbl 1.1h on an ATmega328P: ~580 ms; grblHAL 1.1f: ~100 ms); the ESP32 families'
 * delays and buffer sizes are our reading of their sources, not measured.
 */

export type GrblFamily = 'grbl' | 'grblhal' | 'fluidnc' | 'grbl-esp32';

export const GRBL_FAMILIES: readonly GrblFamily[] = ['grbl', 'grblhal', 'fluidnc', 'grbl-esp32'];

export interface GrblFamilyProfile {
  family: GrblFamily;
  /** Lines a power-up prints before the banner (not after a soft reset). */
  bootLines: string[];
  banner: string;
  /** Lines after the banner on every start (power-up and soft reset). */
  afterBanner: string[];
  /** `$I` lines (before the `ok`), given planner blocks and receive-buffer size. */
  info(blocks: number, rx: number): string[];
  /** Receive buffer (bytes). */
  rxBufferBytes: number;
  /** `Bf:` of an empty receive buffer is the size minus this (a ring buffer that keeps one byte free). */
  bfOffset: number;
  /** Instrument ms from `ALARM:1`/`ALARM:2` to `[MSG:Reset to continue]`; a Ctrl-X before it is lost. */
  resetMessageDelayMs: number;
  /** Feed hold `!` cancels a jog (Grbl 1.1); grblHAL ignores it during a jog and needs jog cancel 0x85. */
  feedHoldCancelsJog: boolean;
  /** Status reports carry `H:1`/`H:0` (homed since power-up) when homing is enabled. */
  reportsHomed: boolean;
  /** Power-up with homing enabled starts locked (`'$H'|'$X' to unlock`); grblHAL only with its init-lock flag. */
  locksAtPowerUp: boolean;
  /** Highest alarm code the firmware raises (beyond 10: grblHAL's own). */
  maxAlarm: number;
}

/** What FluidNC and Grbl_ESP32 (its predecessor) share on the wire, as far as a host can tell. */
const ESP32_BEHAVIOUR = {
  afterBanner: [],
  rxBufferBytes: 256,
  bfOffset: 0,
  resetMessageDelayMs: 0,
  feedHoldCancelsJog: true,
  reportsHomed: false,
  locksAtPowerUp: true,
  maxAlarm: 10,
};

export const GRBL_FAMILY_PROFILES: Readonly<Record<GrblFamily, GrblFamilyProfile>> = {
  grbl: {
    family: 'grbl',
    bootLines: [],
    banner: "Grbl 1.1h ['$' for help]",
    afterBanner: [],
    info: (blocks, rx) => ['[VER:1.1h.20190825:]', `[OPT:V,${blocks},${rx}]`],
    rxBufferBytes: 128,
    bfOffset: 0,
    resetMessageDelayMs: 580,
    feedHoldCancelsJog: true,
    reportsHomed: false,
    locksAtPowerUp: true,
    maxAlarm: 10,
  },
  grblhal: {
    family: 'grblhal',
    bootLines: [],
    banner: "GrblHAL 1.1f ['$' or '$HELP' for help]",
    afterBanner: [],
    info: (blocks, rx) => [
      '[VER:1.1f.20231210:]',
      `[OPT:VNMSL,${blocks},${rx},3,0]`,
      '[AXS:3:XYZ]',
      '[NEWOPT:ENUMS,RT+,HOME,SED]',
      '[FIRMWARE:grblHAL]',
      '[NVS STORAGE:*FLASH]',
      '[DRIVER:STM32F446]',
      '[DRIVER VERSION:231005]',
      '[BOARD:Generic Uno]',
    ],
    rxBufferBytes: 1024,
    bfOffset: 1,
    resetMessageDelayMs: 100,
    feedHoldCancelsJog: false,
    reportsHomed: true,
    locksAtPowerUp: false,
    maxAlarm: 18,
  },
  fluidnc: {
    family: 'fluidnc',
    bootLines: ['[MSG:INFO: FluidNC v3.7.8 https://github.com/bdring/FluidNC]', '[MSG:INFO: Machine Default (Test Drive no I/O)]'],
    banner: "Grbl 3.7 [FluidNC v3.7.8 (noradio) '$' for help]",
    info: (blocks, rx) => ['[VER:3.7 FluidNC v3.7.8:]', `[OPT:PHS,${blocks},${rx}]`],
    ...ESP32_BEHAVIOUR,
  },
  'grbl-esp32': {
    family: 'grbl-esp32',
    bootLines: ['[MSG:Grbl_ESP32 Ver 1.3a Date 20211103]', '[MSG:Compiled with ESP32 SDK:v3.2.3-14-gd3e562907]', '[MSG:Axis count 3]'],
    banner: "Grbl 1.3a ['$' for help]",
    info: (blocks, rx) => ['[VER:1.3a.20211103:]', `[OPT:VNMHS,${blocks},${rx}]`],
    ...ESP32_BEHAVIOUR,
  },
};
