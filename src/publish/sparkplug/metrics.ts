/**
 * The Sparkplug B metrics of the edge node and its inspection device, with fixed aliases (DDATA carries aliases
 * only, as Sparkplug 3.0 allows once the BIRTH has declared name and alias).
 */
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { DefectEvent, DeviceState, ScanEvent } from '../payloads.js';

export type MetricType = 'String' | 'UInt64' | 'Double' | 'Boolean';

export interface MetricDef {
  name: string;
  alias: number;
  type: MetricType;
}

export const NODE_METRICS = {
  bdSeq: { name: 'bdSeq', alias: 0, type: 'UInt64' },
  rebirth: { name: 'Node Control/Rebirth', alias: 1, type: 'Boolean' },
  softwareVersion: { name: 'Properties/Software Version', alias: 2, type: 'String' },
} as const satisfies Record<string, MetricDef>;

/** Fixed device metrics; per-class defect counters get aliases from 100 up as classes appear. */
export const DEVICE_METRICS = {
  state: { name: 'Scan/State', alias: 10, type: 'String' },
  scanId: { name: 'Scan/Id', alias: 11, type: 'String' },
  sampleId: { name: 'Scan/Sample Id', alias: 12, type: 'String' },
  progress: { name: 'Scan/Progress', alias: 13, type: 'Double' },
  lastResult: { name: 'Scan/Last Result', alias: 14, type: 'String' },
  scanDefects: { name: 'Defects/Scan Total', alias: 20, type: 'UInt64' },
  totalDefects: { name: 'Defects/Total', alias: 21, type: 'UInt64' },
  surveyModel: { name: 'Model/Survey', alias: 30, type: 'String' },
  zoomModel: { name: 'Model/Zoom', alias: 31, type: 'String' },
} as const satisfies Record<string, MetricDef>;

const CLASS_ALIAS_BASE = 100;

/** The inspection device's current metric values; tracks what changed since the last DDATA. */
export class DeviceMetrics {
  private readonly values = new Map<number, string | number | boolean>();
  private readonly defs = new Map<number, MetricDef>();
  private readonly dirty = new Set<number>();
  private readonly classAlias = new Map<string, number>();
  /** Set when a metric appeared that the last DBIRTH did not declare. */
  needsBirth = false;

  constructor() {
    for (const d of Object.values(DEVICE_METRICS)) this.defs.set(d.alias, d);
    this.set(DEVICE_METRICS.state, 'unknown');
    this.set(DEVICE_METRICS.scanId, '');
    this.set(DEVICE_METRICS.sampleId, '');
    this.set(DEVICE_METRICS.progress, 0);
    this.set(DEVICE_METRICS.lastResult, '');
    this.set(DEVICE_METRICS.scanDefects, 0);
    this.set(DEVICE_METRICS.totalDefects, 0);
    this.set(DEVICE_METRICS.surveyModel, '');
    this.set(DEVICE_METRICS.zoomModel, '');
    this.dirty.clear();
  }

  state(s: DeviceState): void {
    this.set(DEVICE_METRICS.state, s.state);
    if (s.scanId !== undefined) this.set(DEVICE_METRICS.scanId, s.scanId);
    if (s.sampleId !== undefined) this.set(DEVICE_METRICS.sampleId, s.sampleId);
    if (s.models) {
      this.set(DEVICE_METRICS.surveyModel, s.models.survey);
      this.set(DEVICE_METRICS.zoomModel, s.models.zoom);
    }
  }

  defect(e: DefectEvent): void {
    this.add(DEVICE_METRICS.scanDefects, 1);
    this.add(DEVICE_METRICS.totalDefects, 1);
    this.add(this.classMetric(e.class), 1);
  }

  scan(e: ScanEvent): void {
    this.set(DEVICE_METRICS.scanId, e.scanId);
    this.set(DEVICE_METRICS.sampleId, e.sampleId);
    if (e.phase === 'started') {
      this.set(DEVICE_METRICS.progress, 0);
      this.set(DEVICE_METRICS.scanDefects, 0);
      for (const alias of this.classAlias.values()) this.set(this.defs.get(alias)!, 0);
      this.set(DEVICE_METRICS.surveyModel, e.models.survey);
      this.set(DEVICE_METRICS.zoomModel, e.models.zoom);
    } else if (e.phase === 'progress') {
      this.set(DEVICE_METRICS.progress, e.fraction);
    } else {
      this.set(DEVICE_METRICS.progress, e.outcome === 'completed' ? 1 : (this.values.get(DEVICE_METRICS.progress.alias) as number));
      this.set(DEVICE_METRICS.lastResult, e.outcome === 'completed' ? e.summary.acceptance.result : e.outcome);
    }
  }

  /** Every metric with name, alias, type and value (for DBIRTH). */
  all(timestamp: number): UMetric[] {
    this.dirty.clear();
    this.needsBirth = false;
    return [...this.defs.values()].map((d) => ({ name: d.name, alias: d.alias, type: d.type, value: this.values.get(d.alias) ?? null, timestamp }));
  }

  /** Changed metrics by alias only (for DDATA); empty when nothing changed. */
  changed(timestamp: number): UMetric[] {
    const out: UMetric[] = [...this.dirty].map((alias) => ({ alias, type: this.defs.get(alias)!.type, value: this.values.get(alias) ?? null, timestamp }));
    this.dirty.clear();
    return out;
  }

  private classMetric(cls: string): MetricDef {
    let alias = this.classAlias.get(cls);
    if (alias === undefined) {
      alias = CLASS_ALIAS_BASE + this.classAlias.size;
      this.classAlias.set(cls, alias);
      this.defs.set(alias, { name: `Defects/By Class/${cls}`, alias, type: 'UInt64' });
      this.values.set(alias, 0);
      this.needsBirth = true;
    }
    return this.defs.get(alias)!;
  }

  private set(def: MetricDef, value: string | number | boolean): void {
    if (this.values.get(def.alias) === value) return;
    this.values.set(def.alias, value);
    this.dirty.add(def.alias);
  }

  private add(def: MetricDef, n: number): void {
    this.set(def, ((this.values.get(def.alias) as number | undefined) ?? 0) + n);
  }
}
