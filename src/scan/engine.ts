/**
 * The scan engine: survey → AI candidates → stage → zoom → confirm, for one sample, journalled so a crash or power cut
 * resumes at the next unfinished step, controllable (pause / resume / abort), and pausing with a clear state on a
 * device fault rather than reporting anything it did not measure.
 */
import { join } from 'node:path';
import { isDeviceFault } from '../kernel/errors.js';
import { ScanAborted, type ScanControl } from './control.js';
import { ScanJournal } from './journal.js';
import type { ConfirmedDefect, ScanContext } from './ports.js';
import type { Recipe } from './recipe.js';
import { writeReportImage } from './report.js';
import { ScanRun, type ScanDeps } from './run.js';
import { judge, type ScanSummary } from './summary.js';
import { survey, type Candidate } from './survey.js';
import { planZoom } from './plan.js';
import { zoom, type Target, type TargetOutcome } from './zoom.js';

export interface ScanJob {
  /** Stable id: pass the same one to resume after a crash. */
  scanId: string;
  sampleId: string;
  lot: string;
  recipe: Recipe;
}

export interface ScanResult {
  summary: ScanSummary;
  defects: ConfirmedDefect[];
  targets: Target[];
  outcomes: TargetOutcome[];
  /** Survey candidates after merging (for scoring against ground truth). */
  candidates: Candidate[];
  resumed: boolean;
}

export async function runScan(deps: ScanDeps, job: ScanJob, control: ScanControl): Promise<ScanResult> {
  const journal = new ScanJournal(join(deps.stateDir, 'journal'), job.scanId);
  try {
    return await scanWithJournal(deps, job, control, journal);
  } finally {
    journal.close();
  }
}

async function scanWithJournal(deps: ScanDeps, job: ScanJob, control: ScanControl, journal: ScanJournal): Promise<ScanResult> {
  const cal = deps.calibration;
  const context: ScanContext = {
    scanId: job.scanId,
    sampleId: job.sampleId,
    lot: job.lot,
    recipeId: job.recipe.id,
    recipeVersion: job.recipe.version,
    calibrationVersion: cal.version,
    surveyModel: deps.surveyDetector.id,
    zoomModel: deps.zoomDetector.id,
  };
  const replay = journal.replayed;
  const ended = replay.find((r) => r.t === 'end');
  if (ended && ended.t === 'end') {
    const s = ended.summary;
    return { summary: s, defects: replay.flatMap((r) => (r.t === 'target' ? r.defects : [])), targets: [], outcomes: [], candidates: [], resumed: true };
  }
  const begin = replay.find((r) => r.t === 'begin');
  if (
    begin &&
    begin.t === 'begin' &&
    (begin.calibrationVersion !== cal.version || begin.models.survey !== context.surveyModel || begin.models.zoom !== context.zoomModel)
  ) {
    throw new Error(
      `scan ${job.scanId} was started with calibration ${begin.calibrationVersion} and models ${begin.models.survey} / ${begin.models.zoom}; ` +
        `it cannot resume with ${cal.version} and ${context.surveyModel} / ${context.zoomModel}`,
    );
  }
  const lastTime = [...replay].reverse().find((r) => r.t === 'time');
  const run = new ScanRun(deps, job.recipe, context, control, journal, lastTime && lastTime.t === 'time' ? lastTime.split : undefined);
  const startedAt = begin && begin.t === 'begin' ? begin.at : deps.clock.wallTime().toISOString();
  const startedAtMs = Date.parse(startedAt);
  const resumed = !!begin;
  let targets: Target[] | null = null;
  const outcomes: TargetOutcome[] = [];
  for (const r of replay) {
    if (r.t === 'focus') run.addFocusPoint(r.x, r.y, r.z, r.objective, false);
    if (r.t === 'tile') run.restoreTile(r.index, r.candidates);
    if (r.t === 'targets') targets = r.targets;
    if (r.t === 'target') {
      outcomes.push({
        index: r.index,
        outcome: r.outcome,
        defects: r.defects,
        fields: r.fields,
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.fieldCentres ? { fieldCentres: r.fieldCentres } : {}),
      });
    }
  }
  const o = job.recipe.outline;
  deps.recorder?.begin(context, { startedAt, resumed, recipe: job.recipe, calibration: cal });
  if (!resumed) {
    journal.append({
      t: 'begin',
      at: startedAt,
      job: { scanId: job.scanId, sampleId: job.sampleId, lot: job.lot, recipe: job.recipe },
      calibrationVersion: cal.version,
      models: { survey: context.surveyModel, zoom: context.zoomModel },
    });
    await deps.sink.scan({ kind: 'started', context, at: startedAt, outlineUm: [o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm] });
  } else {
    run.log.info({ tiles: run.tilesDone().size, targetsDone: outcomes.length }, 'resuming scan from its journal');
  }
  const stateEvent = (state: string, reason?: string): void => {
    journal.append({ t: 'state', state, at: deps.clock.wallTime().toISOString(), ...(reason ? { reason } : {}) });
    void deps.sink.scan({ kind: 'state', context, at: deps.clock.wallTime().toISOString(), state, ...(reason ? { reason } : {}) }).catch(() => undefined);
  };
  const onState = (s: string, reason: string): void => stateEvent(s, reason || undefined);
  control.on('state', onState);
  control.set('running');

  let candidates: Candidate[] = [];
  let final: ScanSummary['state'] = 'finished';
  let failure: string | null = null;
  try {
    // A device fault (cable, power, jam: a person can fix it) pauses the scan in state 'faulted'; anything else
    // (a full disk, a refused model, a bug) fails it. Each phase skips what the journal says is done, so after a
    // device fault it is simply run again.
    const withFaults = async <T>(phase: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await phase();
        } catch (err) {
          if (err instanceof ScanAborted || control.signal.aborted || !isDeviceFault(err)) throw err;
          const msg = (err as Error).message;
          run.log.error({ err: msg }, 'device fault: scan paused until resumed or aborted');
          control.fault(msg);
          await control.checkpoint();
        }
      }
    };
    if (!targets) {
      candidates = await run.account.phase('survey', () => withFaults(() => survey(run)));
      const first = job.recipe.outline;
      const start: [number, number] = run.overview.length > 0 ? [run.overview.at(-1)!.pose.x, run.overview.at(-1)!.pose.y] : [first.xUm, first.yUm];
      const plan = planZoom(candidates, job.recipe, run.objectiveCal(job.recipe.zoom.objective).fieldUm, start);
      targets = plan.targets;
      if (plan.rasterFields > 0)
        run.log.info(
          { rasterFields: plan.rasterFields, outlineFields: plan.outlineFields, rasterAll: plan.rasterAll, visits: targets.length - plan.rasterFields },
          'busy regions rastered at zoom magnification',
        );
      journal.append({ t: 'targets', targets });
    } else {
      candidates = targets;
    }
    const done = new Set(outcomes.map((x) => x.index));
    const confirmedSoFar = outcomes.flatMap((x) => x.defects);
    const fresh = await run.account.phase('zoom', () => withFaults(() => zoom(run, targets!, confirmedSoFar, done, startedAtMs)));
    outcomes.push(...fresh);
  } catch (err) {
    // An abort also cancels the device call in flight (a grab, a move): that error is the abort, not a failure.
    if (err instanceof ScanAborted || control.signal.aborted) final = 'aborted';
    else {
      final = 'failed';
      failure = (err as Error).message;
      run.log.error({ err: failure }, 'scan failed');
    }
  } finally {
    control.off('state', onState);
  }
  journal.append({ t: 'time', split: { ...run.account.split() } });
  // What every summary names: the scan, the sample, the recipe, the calibration and the models.
  const identity = {
    scanId: job.scanId,
    sampleId: job.sampleId,
    lot: job.lot,
    recipeId: job.recipe.id,
    recipeVersion: job.recipe.version,
    calibrationVersion: cal.version,
    models: { survey: context.surveyModel, zoom: context.zoomModel },
  };
  if (final === 'aborted' && control.resumable) {
    // Stopped for a shutdown: nothing is concluded; the journal stays open and the next start resumes the scan.
    control.set('aborted', control.reason);
    const partial = outcomes.flatMap((x) => x.defects);
    const time = run.account.split();
    return {
      summary: {
        ...identity,
        state: 'aborted',
        inspectedAreaCm2: 0,
        surveyFields: run.tilesDone().size,
        candidates: candidates.length,
        targetsVisited: outcomes.length,
        targetsSkipped: 0,
        confirmed: partial.length,
        rejected: 0,
        countsByClass: {},
        densityPerCm2: {},
        largestUm: {},
        verdict: 'not-judged',
        pass: false,
        reasons: ['suspended for shutdown; resumes on the next start'],
        rasterFields: 0,
        belowConfidence: 0,
        time,
      },
      defects: partial,
      targets: targets ?? [],
      outcomes,
      candidates,
      resumed,
    };
  }

  const defects = outcomes.flatMap((x) => x.defects);
  const areaCm2 = (o.widthUm * o.heightUm) / 1e8;
  const verdict = judge(job.recipe, defects, areaCm2);
  const reasons = [...verdict.reasons];
  if (final === 'aborted') reasons.unshift(`scan aborted (${control.reason}): results cover only what was inspected`);
  if (final === 'failed') reasons.unshift(`scan failed: ${failure}`);
  const skipped = outcomes.filter((x) => x.outcome === 'skipped').length;
  if (skipped > 0) reasons.push(`${skipped} target(s) could not be reached and were not inspected`);
  if (!verdict.judged) reasons.push(`recipe "${job.recipe.id}" states no acceptance criteria: the sample is not judged`);
  const complete = final === 'finished' && skipped === 0;
  const rasterIndex = new Set((targets ?? []).filter((t) => t.raster).map((t) => t.index));
  const rasterFields = rasterIndex.size;
  const summary: ScanSummary = {
    ...identity,
    state: final,
    inspectedAreaCm2: areaCm2,
    surveyFields: run.surveyFieldCount || run.tilesDone().size,
    candidates: candidates.length,
    targetsVisited: outcomes.filter((x) => x.outcome !== 'skipped' && !rasterIndex.has(x.index)).length,
    targetsSkipped: skipped,
    confirmed: defects.length,
    rejected: outcomes.filter((x) => x.outcome === 'rejected' && !rasterIndex.has(x.index)).length,
    countsByClass: verdict.countsByClass,
    densityPerCm2: verdict.densityPerCm2,
    largestUm: verdict.largestUm,
    // A sample passes only when it was fully inspected and met every criterion of its recipe.
    verdict: complete && verdict.pass ? 'pass' : verdict.judged || !complete ? 'fail' : 'not-judged',
    pass: complete && verdict.pass,
    reasons,
    rasterFields,
    belowConfidence: verdict.belowConfidence,
    time: run.account.split(),
  };
  try {
    const ob = job.recipe.survey.objective;
    const tiles = run.overview.filter(Boolean);
    if (tiles.length > 0) {
      summary.reportImage = await writeReportImage(
        join(deps.stateDir, 'reports', `${job.scanId}.jpg`),
        job.recipe,
        tiles,
        run.umPerPx(ob) * tiles[0]!.bin,
        run.objectiveCal(ob).offsetUm,
        defects,
        `${job.sampleId} · ${summary.verdict.toUpperCase()} · ${defects.length} defects`,
      );
    }
  } catch (err) {
    run.log.warn({ err: (err as Error).message }, 'report image not written');
  }
  deps.recorder?.finish(context, final, summary);
  journal.append({ t: 'end', summary });
  control.set(final);
  await deps.sink.scan({ kind: 'finished', context, at: deps.clock.wallTime().toISOString(), summary });
  return { summary, defects, targets: targets ?? [], outcomes, candidates, resumed };
}
