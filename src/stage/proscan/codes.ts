/**
 * Prior ProScan error replies `E,n`, in our words, after the error table of the ProScan III manual
 * (Prior Scientific, "ProScan III User Manual", appendix "Error codes").
 */
export const PROSCAN_ERRORS: Readonly<Record<number, string>> = {
  1: 'no stage fitted',
  2: 'not idle',
  3: 'no drive fitted',
  4: 'command could not be parsed',
  5: 'unknown command',
  6: 'invalid shutter',
  7: 'no focus drive fitted',
  8: 'value out of range',
  9: 'invalid filter wheel',
  10: 'argument 1 out of range',
  11: 'argument 2 out of range',
  12: 'argument 3 out of range',
  13: 'argument 4 out of range',
  14: 'argument 5 out of range',
  15: 'argument 6 out of range',
  16: 'incorrect state',
  17: 'filter wheel not fitted',
  18: 'command queue full',
  19: 'compatibility mode is set',
  20: 'shutter not fitted',
  21: 'invalid checksum',
  60: 'encoder error',
  61: 'encoder ran off its scale',
};

export function proscanErrorText(code: number): string {
  return PROSCAN_ERRORS[code] ?? 'unknown error code';
}
