/** Terminal tables for twin runs: what was found against ground truth, and where instrument time went. */
import type { TwinSampleResult } from './twin-loop.js';

const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function formatDemoReport(results: TwinSampleResult[], opts: { header: boolean }): string {
  const lines: string[] = [];
  if (!opts.header) {
    for (const r of results) {
      const s = r.result.summary;
      const t = s.time;
      lines.push(
        `  ${r.sampleId}: ${s.state}, ${s.verdict.toUpperCase()}${s.reasons.length ? ` (${s.reasons.join('; ')})` : ''}`,
        `    survey ${s.surveyFields} fields → ${s.candidates} candidates → ${s.targetsVisited} zoom targets → ${s.confirmed} defects confirmed, ${s.rejected} targets rejected`,
        `    against ground truth: recall ${pct(r.score.recall)}, precision ${pct(r.score.precision)}, ${r.score.missedBySurvey} real defects never targeted, targets landed ${pct(r.score.landedShare)}`,
        `    per class: ${Object.entries(r.score.perClass)
          .map(([c, v]) => `${c} ${v.truePositives}/${v.truth} found, ${v.found} reported`)
          .join('; ')}`,
        `    instrument time ${sec(t.totalMs)} (survey ${sec(t.surveyMs)}, zoom ${sec(t.zoomMs)}; travel ${sec(t.travelMs)}, focus ${sec(t.focusMs)}, capture ${sec(t.captureMs)}, inference not hidden ${sec(t.inferenceMs)} of ${sec(t.inferenceTotalMs)}); wall ${sec(r.wallMs)}`,
        ...(s.reportImage ? [`    report image: ${s.reportImage}`] : []),
      );
    }
    return `${lines.join('\n')}\n`;
  }
  const tp = results.reduce((a, r) => a + Object.values(r.score.perClass).reduce((b, c) => b + c.truePositives, 0), 0);
  const truth = results.reduce((a, r) => a + Object.values(r.score.perClass).reduce((b, c) => b + c.truth, 0), 0);
  const found = results.reduce((a, r) => a + Object.values(r.score.perClass).reduce((b, c) => b + c.found, 0), 0);
  const inst = results.reduce((a, r) => a + r.result.summary.time.totalMs, 0);
  lines.push(
    `batch: ${results.length} sample(s), ${tp} of ${truth} real defects found with the right class (recall ${pct(truth ? tp / truth : 1)}), ` +
      `${found} reported (precision ${pct(found ? tp / found : 1)}), instrument time ${sec(inst)}`,
  );
  return `${lines.join('\n')}\n`;
}
