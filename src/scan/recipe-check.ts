/**
 * A recipe checked against the instrument before a sample is accepted with it: its objectives must be calibrated
 * on this instrument and its outline must lie within the stage's travel. Otherwise the scan would fail only when it
 * comes up — and report the area it never inspected.
 */
import { ConfigError, type ConfigIssue } from '../kernel/validate.js';
import type { AxisLimits, StageAxis } from '../stage/stage.js';
import type { Recipe } from './recipe.js';

export interface InstrumentFacts {
  /** Objective names the calibration covers. */
  objectives: readonly string[];
  /** Soft travel limits of the stage (µm). */
  limits?: Readonly<Partial<Record<StageAxis, AxisLimits>>>;
}

export function recipeIssues(recipe: Recipe, facts: InstrumentFacts): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const known = facts.objectives.join(', ');
  for (const part of ['survey', 'zoom'] as const) {
    const ob = recipe[part].objective;
    if (!facts.objectives.includes(ob)) issues.push({ path: `${part}.objective`, value: ob, expected: `an objective calibrated on this instrument: ${known}` });
  }
  const o = recipe.outline;
  for (const [axis, lo, size, name] of [
    ['x', o.xUm, o.widthUm, 'widthUm'],
    ['y', o.yUm, o.heightUm, 'heightUm'],
  ] as const) {
    const l = facts.limits?.[axis];
    if (!l) continue;
    if (lo < l.minUm) issues.push({ path: `outline.${axis}Um`, value: lo, expected: `at least the stage's ${axis} travel limit ${l.minUm} µm` });
    else if (lo + size > l.maxUm)
      issues.push({
        path: `outline.${name}`,
        value: size,
        expected: `at most ${l.maxUm - lo} µm: the outline would end at ${axis} = ${lo + size} µm, beyond the stage's travel limit ${l.maxUm} µm`,
      });
  }
  return issues;
}

/** Throws, naming every path and value, when the recipe cannot run on this instrument. */
export function assertRecipeFits(recipe: Recipe, facts: InstrumentFacts, source: string): void {
  const issues = recipeIssues(recipe, facts);
  if (issues.length > 0) throw new ConfigError(`recipe "${recipe.id}" (${source}) cannot run on this instrument`, issues);
}
