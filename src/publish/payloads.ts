/**
 * The payloads smartscope publishes to the plant (MES) over MQTT, as TypeScript types. Each has a JSON Schema in
 * ./schemas/ (the wire contract, also referenced by docs/asyncapi.yaml); tests check that real published messages
 * validate against both.
 *
 * Conventions (docs/mqtt-api.md):
 * - every number with a unit carries the unit in its name (`sizeUm`, `areaUm2`, `durationMs`);
 * - timestamps are RFC 3339 strings in UTC with milliseconds (`2026-11-25T10:15:30.123Z`);
 * - `eventId` is a UUIDv7: unique, and sorts by creation time, so an MES can de-duplicate and order;
 * - `schemaVersion` is semantic: a new optional field bumps the minor, a removed or changed field the major.
 */

/** Version of the payload schemas in ./schemas/. */
export const SCHEMA_VERSION = '1.0.0';

export interface DeviceRef {
  site: string;
  line: string;
  id: string;
}

/** Fields every event (defect, scan, alarm, audit) carries. The sink fills them in. */
export interface EventEnvelope {
  schemaVersion: string;
  /** UUIDv7. */
  eventId: string;
  /** When the event was produced (RFC 3339). */
  ts: string;
  device: DeviceRef;
  /**
   * True when the event was produced while the device had no broker connection (or by an earlier run of the
   * process) and is delivered late from the outbox. Set at publication.
   */
  historical: boolean;
}

/** Reference to an image published on its own topic before the event that references it. */
export interface ImageRef {
  /** Content address: the lowercase hex SHA-256 of the JPEG bytes. */
  id: string;
  sha256: string;
  /** Full topic the JPEG bytes are (or were) published on. */
  topic: string;
  bytes: number;
  widthPx: number;
  heightPx: number;
  contentType: 'image/jpeg';
  /** Present and true when the outbox had to drop the image under its disk cap: the bytes were never published. */
  dropped?: boolean;
}

export interface RecipeRef {
  id: string;
  version: string;
}

export interface PointUm {
  xUm: number;
  yUm: number;
}

export interface PoseUm {
  xUm: number;
  yUm: number;
  zUm: number;
}

/** Axis-aligned box in sample coordinates: top-left corner and extent. */
export interface BoxUm {
  xUm: number;
  yUm: number;
  widthUm: number;
  heightUm: number;
}

export interface ObjectiveRef {
  name: string;
  magnification?: number;
}

export interface ModelRefs {
  /** Bundle id of the survey (low magnification, candidate) model. */
  survey: string;
  /** Bundle id of the zoom (confirmation, characterisation) model. */
  zoom: string;
}

/** `events/defect`: one confirmed, characterised defect with its full provenance. */
export interface DefectEvent extends EventEnvelope {
  sampleId: string;
  lot?: string;
  recipe: RecipeRef;
  scanId: string;
  /** Unique within the scan. */
  defectId: string;
  class: string;
  /** Model confidence of the class, 0..1. */
  confidence: number;
  /** Longest extent (maximum Feret diameter). */
  sizeUm: number;
  /** Extent perpendicular to the longest one. */
  widthUm: number;
  areaUm2: number;
  /** Angle of the longest extent from stage +x, counter-clockwise, -90..90. */
  orientationDeg: number;
  /** Defect centre in stage coordinates. */
  positionStage: PointUm;
  /** Defect centre in sample coordinates (origin at the sample's reference corner). */
  positionSample: PointUm;
  bboxSample: BoxUm;
  /** The survey tile and candidate that led to this defect. */
  survey: { tileIndex: number; candidateScore: number };
  /** Stage pose when the confirming image was captured. */
  stagePose: PoseUm;
  objective: ObjectiveRef;
  /** Focus metric of the confirming image (normalised variance of the Laplacian; higher is sharper). */
  focusScore: number;
  calibrationVersion: string;
  models: ModelRefs;
  /** Exposure start of the confirming image. */
  captureTs: string;
  /** When the zoom model's result was available. */
  detectionTs: string;
  thumbnail?: ImageRef;
}

export interface AcceptanceReason {
  /** Which criterion failed: `maxDefectsPerCm2`, `maxDefectSizeUm`, or `acceptance` for any other. */
  criterion: string;
  /** The class the criterion applies to (`total` for all classes). */
  class?: string;
  limit?: number;
  actual?: number;
  message: string;
}

/** Instrument time of a scan split by activity (ms of instrument time, not wall time). */
export interface InstrumentTimeMs {
  surveyMs: number;
  travelMs: number;
  focusMs: number;
  captureMs: number;
  inferenceMs: number;
  totalMs: number;
  /** Zoom phase, and what fits none of the activities. */
  zoomMs?: number;
  otherMs?: number;
}

export interface ScanSummary {
  defectsTotal: number;
  countsByClass: Record<string, number>;
  inspectedAreaCm2: number;
  densityPerCm2: { total: number; byClass: Record<string, number> };
  acceptance: { result: 'pass' | 'fail' | 'not-judged'; reasons: AcceptanceReason[] };
  instrumentTime: InstrumentTimeMs;
  reportImage?: ImageRef;
  surveyFields?: number;
  candidates?: number;
  targetsVisited?: number;
  targetsSkipped?: number;
  rejected?: number;
  largestUmByClass?: Record<string, number>;
  rasterFields?: number;
}

interface ScanEventBase extends EventEnvelope {
  scanId: string;
  sampleId: string;
  lot?: string;
  recipe: RecipeRef;
}

export interface ScanStartedEvent extends ScanEventBase {
  phase: 'started';
  models: ModelRefs;
  calibrationVersion: string;
  /** Area the recipe asks to inspect. */
  plannedAreaCm2: number;
  plannedTiles?: number;
  outlineStage?: BoxUm;
}

export interface ScanProgressEvent extends ScanEventBase {
  phase: 'progress';
  /** The part of the scan that progressed: `survey` or `zoom`. */
  stage: string;
  done: number;
  total: number;
  /** done / total, 0..1. */
  fraction: number;
  /** Scan state: running, paused, faulted, aborting. */
  state?: string;
  candidates?: number;
  defectsConfirmed?: number;
  elapsedMs?: number;
}

export interface ScanFinishedEvent extends ScanEventBase {
  phase: 'finished';
  outcome: 'completed' | 'aborted' | 'failed';
  /** Why the scan was aborted or failed. */
  reason?: string;
  startedTs?: string;
  /** Instrument time of the whole scan. */
  durationMs: number;
  summary: ScanSummary;
}

/** `events/scan`. */
export type ScanEvent = ScanStartedEvent | ScanProgressEvent | ScanFinishedEvent;

/** `events/alarm`: something an operator should know; `active: false` clears an alarm with the same `code`. */
export interface AlarmEvent extends EventEnvelope {
  code: string;
  severity: 'info' | 'warning' | 'critical';
  active: boolean;
  message: string;
  details?: Record<string, unknown>;
}

/** `events/audit`: who changed what (commands, model activations, configuration). */
export interface AuditEvent extends EventEnvelope {
  action: string;
  actor: { kind: 'mqtt' | 'ssh' | 'local' | 'system'; id?: string };
  outcome: 'ok' | 'error';
  details?: Record<string, unknown>;
}

export type Availability = 'online' | 'offline' | 'stopped';
/** The device state machine (status-machine.ts); `unknown` only in the last will. */
export type ScopeState = 'starting' | 'idle' | 'scanning' | 'paused' | 'faulted' | 'aborting' | 'stopping' | 'stopped' | 'unknown';

/** What the rest of the runtime reports through `EventSink.state()`. */
export interface DeviceState {
  state: ScopeState;
  scanId?: string;
  sampleId?: string;
  /** Samples waiting in the queue. */
  queueLength?: number;
  models?: ModelRefs;
  message?: string;
}

/** `status` (retained): availability (last will: offline) plus the latest device state. */
export interface StatusPayload extends DeviceState {
  schemaVersion: string;
  /**
   * When this status was produced. For the last will (`offline`) it is the time the connection that registered the
   * will was opened: the broker publishes it later, when it notices the loss.
   */
  ts: string;
  device: DeviceRef;
  availability: Availability;
  softwareVersion: string;
}

/** `stats` (periodic, QoS 0, not retained). */
export interface StatsPayload {
  schemaVersion: string;
  ts: string;
  device: DeviceRef;
  intervalS: number;
  uptimeS: number;
  connection: { connected: boolean; connects: number; disconnects: number };
  outbox: {
    pendingEvents: number;
    pendingBytes: number;
    diskBytes: number;
    capBytes: number;
    thumbnailsDropped: number;
    eventsLost: number;
  };
  published: { events: number; images: number; bytes: number };
  commands: { received: number; rejected: number; failed: number; replied: number; replyTopicRefused?: number; oversizeDropped?: number };
  /** Figures other parts of the runtime contribute (name → value, unit in the name). */
  runtime: Record<string, number>;
}

export type CommandName = 'start-scan' | 'pause-scan' | 'resume-scan' | 'abort-scan' | 'enqueue-sample' | 'reload-model' | 'request-status';

interface CommandBase {
  /** Echoed in the reply: lets MQTT 3.1.1 clients match replies to requests. */
  transaction?: string;
}

export interface StartScanCommand extends CommandBase {
  /** Scan this sample now; absent: the next sample in the queue. */
  sampleId?: string;
  lot?: string;
  recipe?: { id: string; version?: string };
}
export interface PauseScanCommand extends CommandBase {
  scanId?: string;
}
export interface ResumeScanCommand extends CommandBase {
  scanId?: string;
}
export interface AbortScanCommand extends CommandBase {
  scanId?: string;
  reason?: string;
}
export interface EnqueueSampleCommand extends CommandBase {
  sampleId: string;
  lot?: string;
  recipe: { id: string; version?: string };
  priority?: 'normal' | 'high';
}
export interface ReloadModelCommand extends CommandBase {
  /** Which model to reload; absent: both. */
  role?: 'survey' | 'zoom';
  /** Bundle id to activate; absent: reload the active one. */
  bundle?: string;
}
export type RequestStatusCommand = CommandBase;

/** Request payload per command. */
export interface CommandPayloads {
  'start-scan': StartScanCommand;
  'pause-scan': PauseScanCommand;
  'resume-scan': ResumeScanCommand;
  'abort-scan': AbortScanCommand;
  'enqueue-sample': EnqueueSampleCommand;
  'reload-model': ReloadModelCommand;
  'request-status': RequestStatusCommand;
}

export type CommandErrorCode = 'bad_json' | 'invalid' | 'unknown_command' | 'too_large' | 'not_available' | 'busy' | 'failed' | 'timeout';

/** Reply to a command: on the request's MQTT 5 response topic, or on `reply/<name>`. */
export interface CommandReply {
  schemaVersion: string;
  ts: string;
  device: DeviceRef;
  command: string;
  transaction?: string;
  status: 'ok' | 'error';
  data?: unknown;
  error?: { code: CommandErrorCode; message: string };
}
