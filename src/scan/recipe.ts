/**
 * Recipes: what to inspect and how, one YAML file per product, schema-validated like the config (every field has a
 * description, default and range; unknown keys are rejected; errors name path, value and expectation).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { arr, bool, int, num, obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';
import { ConfigError, validate } from '../kernel/validate.js';
import { DEFECT_CLASSES } from './defect-classes.js';

const perClass = (description: string, unit: string, max: number): Schema => ({
  type: 'object',
  description: `${description} Keys are class names; "total" applies to all classes together.`,
  additionalProperties: { type: 'number', minimum: 0, maximum: max },
  propertyNames: { pattern: '^[A-Za-z0-9_-]+$' },
  default: {},
  'x-unit': unit,
});

export const recipeSchema: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'smartscope recipe',
  ...withoutDefault(
    obj(
      'An inspection recipe.',
      {
        id: str('Recipe id carried by every event and record.', undefined, { pattern: '^[A-Za-z0-9._-]+$', minLength: 1, maxLength: 64 }),
        version: str('Recipe version.', '1', { minLength: 1, maxLength: 32 }),
        description: str('What this recipe inspects.', ''),
        outline: obj(
          'Area to inspect, in stage µm (the reference objective’s axis positions): a rectangle.',
          {
            xUm: num('Left edge.', undefined, -1e6, 1e6, 'µm'),
            yUm: num('Top edge.', undefined, -1e6, 1e6, 'µm'),
            widthUm: num('Width.', undefined, 1, 300_000, 'µm'),
            heightUm: num('Height.', undefined, 1, 300_000, 'µm'),
          },
          { required: ['xUm', 'yUm', 'widthUm', 'heightUm'], filled: false },
        ),
        survey: obj('Low-magnification survey of the whole outline.', {
          objective: str('Survey objective name.', '5x'),
          overlap: num('Overlap of neighbouring fields, as a fraction of the field.', 0.08, 0, 0.5),
          exposureUs: num('Exposure per field.', 2000, 10, 1_000_000, 'µs'),
          gainDb: num('Camera gain.', 0, 0, 48, 'dB'),
          focus: obj('How survey fields are focused.', {
            strategy: oneOf('map: autofocus on a grid of points and fit a surface; fixed: one z for the whole sample.', ['map', 'fixed'] as const, 'map'),
            gridPoints: int('Autofocus points per side of the grid (map).', 3, 1, 9),
            rangeUm: num('Width of the first autofocus sweep.', 80, 1, 2000, 'µm'),
            steps: int('Frames in the first sweep (odd).', 9, 3, 41),
            refinements: int('Narrower sweeps after the first.', 2, 0, 5),
            startZUm: num('Where the first sweep is centred (the fixture’s nominal focus).', 0, -1e5, 1e5, 'µm'),
          }),
          threshold: num(
            'Candidate score above which a region is sent to zoom. Choose it for recall: a false candidate costs one zoom visit (and busy regions are rastered anyway), a missed defect is never seen again. Take the highest value at which validation scans of the material lose no defect before zoom (bench:loop reports missedBySurvey per sample); lower it when in doubt. Default 0.5, measured on twin samples at 0.3 % and 1 % defect area: 170 of 171 defects kept a candidate, and the 1 % sample had 4 false candidates against 31 at 0.3.',
            0.5,
            0,
            1,
          ),
          minAreaUm2: num('Candidates smaller than this are ignored.', 2, 0, 1e6, 'µm²'),
          mergeUm: num('Candidates closer than this (dashes of one scratch, halves across a field overlap) are one candidate.', 25, 0, 1000, 'µm'),
        }),
        zoom: obj('High-magnification confirmation of each candidate.', {
          objective: str('Zoom objective name.', '50x'),
          maxTargets: int('Most candidates visited per sample (highest scores first).', 500, 0, 100_000),
          exposureUs: num('Exposure per field.', 2000, 10, 1_000_000, 'µs'),
          gainDb: num('Camera gain.', 0, 0, 48, 'dB'),
          focus: obj('Local focus refinement at each target.', {
            strategy: oneOf('sweep: refine around the focus map’s prediction at every target; map: trust the map.', ['sweep', 'map'] as const, 'sweep'),
            rangeUm: num('Width of the first sweep.', 6, 0.5, 200, 'µm'),
            steps: int('Frames in the first sweep (odd).', 7, 3, 41),
            refinements: int('Narrower sweeps after the first.', 1, 0, 5),
            roiPx: int('Side of the central region read out during the sweep.', 512, 64, 8192, 'px'),
            nearbyUm: num('Within this distance of a field already focused, a short climb from the prediction replaces the full sweep.', 800, 0, 1e6, 'µm'),
            checkRangeUm: num('Span of the climb’s first three frames (its step is half of it).', 1.6, 0.1, 50, 'µm'),
          }),
          confirmThreshold: num('Zoom detections below this confidence do not confirm a candidate.', 0.5, 0, 1),
          minAreaUm2: num('Zoom detections smaller than this are not defects.', 4, 0, 1e6, 'µm²'),
          roiMarginUm: num('Margin read out around a candidate (at least a quarter of its size).', 15, 0, 1000, 'µm'),
          matchUm: num('A zoom detection confirms a candidate when it lies within this distance of it.', 10, 0, 1000, 'µm'),
          joinUm: num('Zoom detections closer than this (dashes of one scratch, parts in neighbouring fields) are one defect.', 8, 0, 1000, 'µm'),
          mosaic: bool('Image candidates larger than one zoom field as a mosaic of fields.', true),
          maxFieldsPerTarget: int('Most fields of one mosaic (those covering most of the candidate are kept).', 16, 1, 400),
          rasterCoverage: num(
            'A block of zoom fields (rasterBlockFields on a side) in which candidates touch at least this share of the fields is rastered — every field imaged and every defect in it reported — instead of visited candidate by candidate. 1 turns rastering of busy regions off. Default 0.75: on a twin inclusion section at 0.01 % (5 inclusions, 51 survey candidates) 0.5 rastered 48 of 169 fields for nothing, 0.75 none; a 2 % sample is rastered whole at any value.',
            0.75,
            0,
            1,
          ),
          rasterBlockFields: int('Side of the blocks of zoom fields judged for rastering.', 3, 1, 50),
          rasterAllShare: num(
            'When the planned visits (mosaic fields counted) and rastered fields reach this share of a raster of the whole outline, the whole outline is rastered: the loop is then never slower than a raster. 1 turns it off.',
            0.8,
            0,
            1,
          ),
        }),
        acceptance: obj('Pass/fail criteria of the sample.', {
          maxDefectsPerCm2: perClass('Most confirmed defects per cm² of inspected area.', 'per cm²', 1e9),
          maxDefectSizeUm: perClass('Largest allowed defect size (longest extent).', 'µm', 1e9),
          minConfidence: num('Only defects at least this confident count against the criteria.', 0.5, 0, 1),
        }),
        unreachable: oneOf(
          'What to do with a target that cannot be reached or focused: skip it (and say so), pause the scan, or fail the sample.',
          ['skip', 'pause', 'fail'] as const,
          'skip',
        ),
        classes: arr('Defect classes the zoom model reports (for acceptance keys).', { type: 'string' }, { default: [...DEFECT_CLASSES] }),
      },
      { required: ['id', 'outline'] },
    ),
  ),
};

function withoutDefault(s: Schema): Schema {
  const { default: _d, ...rest } = s;
  return rest;
}

export interface Recipe {
  id: string;
  version: string;
  description: string;
  outline: { xUm: number; yUm: number; widthUm: number; heightUm: number };
  survey: {
    objective: string;
    overlap: number;
    exposureUs: number;
    gainDb: number;
    focus: { strategy: 'map' | 'fixed'; gridPoints: number; rangeUm: number; steps: number; refinements: number; startZUm: number };
    threshold: number;
    minAreaUm2: number;
    mergeUm: number;
  };
  zoom: {
    objective: string;
    maxTargets: number;
    exposureUs: number;
    gainDb: number;
    focus: { strategy: 'sweep' | 'map'; rangeUm: number; steps: number; refinements: number; roiPx: number; nearbyUm: number; checkRangeUm: number };
    confirmThreshold: number;
    minAreaUm2: number;
    roiMarginUm: number;
    matchUm: number;
    joinUm: number;
    mosaic: boolean;
    maxFieldsPerTarget: number;
    rasterCoverage: number;
    rasterBlockFields: number;
    rasterAllShare: number;
  };
  acceptance: { maxDefectsPerCm2: Record<string, number>; maxDefectSizeUm: Record<string, number>; minConfidence: number };
  unreachable: 'skip' | 'pause' | 'fail';
  classes: string[];
}

export function parseRecipe(data: unknown, source = 'recipe'): Recipe {
  const r = validate<Recipe>(recipeSchema, structuredClone(data ?? {}), source);
  const known = new Set([...r.classes, 'total']);
  const issues = [];
  for (const key of ['maxDefectsPerCm2', 'maxDefectSizeUm'] as const) {
    for (const k of Object.keys(r.acceptance[key])) {
      if (!known.has(k))
        issues.push({ path: `acceptance.${key}.${k}`, value: r.acceptance[key][k], expected: `a class of this recipe (${[...known].join(', ')})` });
    }
  }
  if (r.survey.objective === r.zoom.objective)
    issues.push({ path: 'zoom.objective', value: r.zoom.objective, expected: 'a different objective than survey.objective' });
  if (issues.length > 0) throw new ConfigError(source, issues);
  return r;
}

export function loadRecipe(path: string): Recipe {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, 'utf8'), { uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(path, [{ path: '', value: undefined, expected: `a readable YAML recipe (${(err as Error).message.split('\n')[0]})` }]);
  }
  return parseRecipe(data, path);
}
