/**
 * Settings of the classical baseline for each shipped model's task, chosen by hand from how the defects look in the
 * training images (polarity, size, shape) — no learning. Each preset answers with the same classes as its model so
 * both are scored identically.
 */

export interface SegmentLocal {
  /** Deviation from a local mean over a (2·radius+1)² box, in units of the frame's robust noise σ. */
  method: 'local';
  radiusPx: number;
  k: number;
  polarity: 'dark' | 'bright' | 'both';
}

export interface SegmentOtsu {
  /** One global Otsu threshold per frame; the dark (or bright) side is foreground. */
  method: 'otsu';
  polarity: 'dark' | 'bright';
  /** Shift of the Otsu threshold (0–1 scale), negative = stricter for dark. */
  offset: number;
}

export interface ClassRule {
  className: string;
  minAreaPx?: number;
  maxAreaPx?: number;
  /** Max Feret / min Feret. */
  minElongation?: number;
  maxElongation?: number;
  /** Area / (max Feret × min Feret): ~1 for straight bars, π/4 for ellipses, low for jagged or branched shapes. */
  minFill?: number;
  maxFill?: number;
  polarity?: 'dark' | 'bright';
}

export interface ClassicalPreset {
  name: string;
  classes: string[];
  segment: SegmentLocal | SegmentOtsu;
  openPx: number;
  closePx: number;
  minAreaPx: number;
  /** First matching rule gives the class; a region no rule matches takes the last rule's class. */
  rules: ClassRule[];
}

const twinClasses = ['background', 'scratch', 'pit', 'particle', 'crack'];

export const CLASSICAL_PRESETS: Record<string, ClassicalPreset> = {
  survey: {
    name: 'survey',
    classes: ['background', 'defect'],
    segment: { method: 'local', radiusPx: 12, k: 4, polarity: 'both' },
    openPx: 0,
    closePx: 1,
    minAreaPx: 3,
    rules: [{ className: 'defect' }],
  },
  zoom: {
    name: 'zoom',
    classes: twinClasses,
    segment: { method: 'local', radiusPx: 40, k: 4, polarity: 'both' },
    openPx: 1,
    closePx: 2,
    minAreaPx: 20,
    rules: [
      { className: 'particle', polarity: 'bright' },
      { className: 'scratch', minElongation: 4, minFill: 0.5 },
      { className: 'crack', minElongation: 3 },
      { className: 'pit', maxElongation: 1.6, minFill: 0.6 },
      { className: 'particle' },
    ],
  },
  superalloy: {
    name: 'superalloy',
    classes: ['matrix', 'secondary', 'tertiary'],
    segment: { method: 'otsu', polarity: 'dark', offset: 0 },
    openPx: 1,
    closePx: 0,
    minAreaPx: 4,
    rules: [{ className: 'secondary', minAreaPx: 150 }, { className: 'tertiary' }],
  },
  ebc: {
    name: 'ebc',
    classes: ['background', 'oxide', 'crack'],
    segment: { method: 'local', radiusPx: 48, k: 3, polarity: 'dark' },
    openPx: 1,
    closePx: 2,
    minAreaPx: 12,
    rules: [{ className: 'crack', minElongation: 4, maxFill: 0.45 }, { className: 'oxide' }],
  },
  pitting: {
    name: 'pitting',
    classes: ['background', 'pitting'],
    segment: { method: 'local', radiusPx: 40, k: 5, polarity: 'dark' },
    openPx: 2,
    closePx: 3,
    minAreaPx: 30,
    rules: [{ className: 'pitting' }],
  },
};

export function classicalPreset(name: string): ClassicalPreset {
  const p = CLASSICAL_PRESETS[name];
  if (!p) throw new Error(`no classical baseline preset named '${name}' (presets: ${Object.keys(CLASSICAL_PRESETS).join(', ')})`);
  return p;
}
