/** Config section `scan`: recipes, calibration and the daemon's scan pipeline. */
import { bool, obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';

export const scanSchema: Schema = obj('The scan engine run by the daemon.', {
  pipeline: oneOf(
    'scan: the feedback loop over the sample queue; frame-loop: a camera and model self-check only (no scanning).',
    ['scan', 'frame-loop'] as const,
    'scan',
  ),
  recipesDir: str('Folder of recipe files (<id>.yaml).', '/etc/smartscope/recipes', { minLength: 1 }),
  calibrationFile: str('Calibration file (written by `smartscope calibrate`); default: <appliance.stateDir>/calibration.json.'),
  calibrateTwin: bool('On the twin, calibrate at start when no calibration file exists (hardware always needs `smartscope calibrate`).', true),
});

export interface ScanConfig {
  pipeline: 'scan' | 'frame-loop';
  recipesDir: string;
  calibrationFile?: string;
  calibrateTwin: boolean;
}
