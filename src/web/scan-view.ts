/**
 * What the web page shows of the scan in progress, fed by the scan's own ports: the event sink (scan progress and
 * confirmed defects, after they are durable — the moment they leave for the MES), the records port (survey fields with
 * their downsampled images, zoom targets) and the camera and stage (live view). Everything is forwarded first and
 * observed after, and bounded: the page never makes the scan wait.
 */
import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import type { Nosepiece } from '../camera/nosepiece.js';
import type { ConfirmedDefect, ScanContext, ScanEvent, ScanRecorder, ScanSink, ThumbnailSource } from '../scan/ports.js';
import type { ScanDeps } from '../scan/run.js';
import type { LiveView } from './live.js';

export const CLASS_COLOURS = ['#ff3b30', '#ffcc00', '#34c759', '#0a84ff', '#bf5af2', '#ff9f0a', '#64d2ff'];

export interface PageEvent {
  /** Increasing per process, so a page can tell what it missed. */
  seq: number;
  type: 'scan' | 'tile' | 'target' | 'defect' | 'review';
  /** Wall time (ms) the event was observed, for the event-to-page latency. */
  at: number;
  data: unknown;
}

export interface DefectView {
  eventId: string;
  className: string;
  confidence: number;
  sizeUm: number;
  widthUm: number;
  areaUm2: number;
  stageXUm: number;
  stageYUm: number;
  bboxUm: [number, number, number, number];
  provenance: ConfirmedDefect['provenance'];
}

export interface CurrentScan {
  context: ScanContext | null;
  classes: string[];
  outlineUm: [number, number, number, number] | null;
  /** Survey field size (µm) on the survey objective. */
  fieldUm: [number, number] | null;
  state: string;
  phase: string;
  done: number;
  total: number;
  tiles: Array<{ index: number; x: number; y: number; candidates: number }>;
  targets: Array<{ index: number; x: number; y: number; defects: number }>;
  defects: DefectView[];
  summary: unknown;
}

const MAX_TILES = 2000;
const MAX_DEFECT_IMAGES = 500;

export class ScanView extends EventEmitter {
  current: CurrentScan = empty();
  private seq = 0;
  private readonly tileImages = new Map<number, Buffer>();
  private readonly defectImages = new Map<string, Buffer>();
  /** Events observed, by type (for the status page and the benchmark). */
  readonly counts: Record<PageEvent['type'], number> = { scan: 0, tile: 0, target: 0, defect: 0, review: 0 };

  constructor(
    private readonly live: LiveView,
    private readonly jpegQuality = 70,
  ) {
    super();
    this.setMaxListeners(0);
  }

  publish(type: PageEvent['type'], data: unknown): void {
    this.counts[type]++;
    const e: PageEvent = { seq: ++this.seq, type, at: Date.now(), data };
    this.emit('event', e);
  }

  tileImage(index: number): Buffer | undefined {
    return this.tileImages.get(index);
  }

  /** The zoom crop with the model's heatmap and the defect's outline, for defects seen by this process. */
  defectImage(eventId: string): Buffer | undefined {
    return this.defectImages.get(eventId);
  }

  /** The scan's devices and ports, observed for the page. */
  deps<T extends ScanDeps>(d: T): T {
    const nosepiece: Nosepiece = d.nosepiece;
    this.live.objective = () => nosepiece.current();
    return { ...d, camera: this.live.tapCamera(d.camera), stage: this.live.tapStage(d.stage), sink: this.sink(d.sink), recorder: this.recorder(d.recorder) };
  }

  sink(inner: ScanSink): ScanSink {
    return {
      defect: async (defect, context, thumbnail) => {
        await inner.defect(defect, context, thumbnail);
        this.onDefect(defect, thumbnail);
      },
      scan: async (event) => {
        await inner.scan(event);
        this.onScan(event);
      },
    };
  }

  recorder(inner: ScanRecorder | undefined): ScanRecorder {
    return {
      begin: (ctx, info) => {
        inner?.begin(ctx, info);
        const recipe = info.recipe as { survey?: { objective?: string }; classes?: string[] };
        const ob = recipe.survey?.objective;
        const field = ob ? info.calibration.objectives[ob]?.fieldUm : undefined;
        if (this.current.context?.scanId !== ctx.scanId) this.reset(ctx);
        this.current.classes = recipe.classes ?? [];
        this.current.fieldUm = field ? [field[0], field[1]] : null;
      },
      surveyTile: (ctx, t) => {
        inner?.surveyTile(ctx, t);
        const tile = { index: t.index, x: t.pose.x, y: t.pose.y, candidates: t.candidates };
        if (this.current.tiles.length < MAX_TILES) this.current.tiles.push(tile);
        const img = t.image;
        if (!img) return void this.publish('tile', { scanId: ctx.scanId, ...tile, image: false });
        // Copied now: the scan may reuse its buffer once this call returns.
        const pixels = Buffer.from(img.pixels);
        void sharp(pixels, { raw: { width: img.width, height: img.height, channels: 1 } })
          .jpeg({ quality: this.jpegQuality })
          .toBuffer()
          .then((jpeg) => {
            if (this.current.context?.scanId !== ctx.scanId || this.tileImages.size >= MAX_TILES) return;
            this.tileImages.set(t.index, jpeg);
            this.publish('tile', { scanId: ctx.scanId, ...tile, image: true });
          })
          .catch(() => this.publish('tile', { scanId: ctx.scanId, ...tile, image: false }));
      },
      zoomTarget: (ctx, t) => {
        inner?.zoomTarget(ctx, t);
        const target = { index: t.index, x: t.pose.x, y: t.pose.y, defects: t.defects.length };
        this.current.targets.push(target);
        this.publish('target', { scanId: ctx.scanId, ...target });
      },
      finish: (ctx, state, summary) => inner?.finish(ctx, state, summary),
    };
  }

  private reset(ctx: ScanContext): void {
    this.current = { ...empty(), context: ctx };
    this.tileImages.clear();
  }

  private onScan(e: ScanEvent): void {
    const c = this.current;
    if (c.context?.scanId !== e.context.scanId) this.reset(e.context);
    if (e.kind === 'started') {
      this.current.outlineUm = e.outlineUm;
      this.current.state = 'running';
    } else if (e.kind === 'progress') {
      Object.assign(this.current, { phase: e.phase, done: e.done, total: e.total, state: e.state });
    } else if (e.kind === 'state') {
      this.current.state = e.state;
    } else if (e.kind === 'finished') {
      this.current.state = e.summary.state;
      this.current.summary = e.summary;
    }
    this.publish('scan', e);
  }

  private onDefect(d: ConfirmedDefect, thumbnail: ThumbnailSource | null): void {
    const v: DefectView = {
      eventId: d.eventId,
      className: d.className,
      confidence: d.confidence,
      sizeUm: d.sizeUm,
      widthUm: d.widthUm,
      areaUm2: d.areaUm2,
      stageXUm: d.stageXUm,
      stageYUm: d.stageYUm,
      bboxUm: d.bboxUm,
      provenance: d.provenance,
    };
    if (this.current.context?.scanId === d.scanId) this.current.defects.push(v);
    this.publish('defect', { scanId: d.scanId, ...v });
    if (thumbnail) {
      const colour = CLASS_COLOURS[Math.max(0, this.current.classes.indexOf(d.className)) % CLASS_COLOURS.length]!;
      void annotate(thumbnail, colour)
        .then((jpeg) => {
          if (this.defectImages.size >= MAX_DEFECT_IMAGES) this.defectImages.delete(this.defectImages.keys().next().value!);
          this.defectImages.set(d.eventId, jpeg);
        })
        .catch(() => undefined);
    }
  }
}

function empty(): CurrentScan {
  return {
    context: null,
    classes: [],
    outlineUm: null,
    fieldUm: null,
    state: 'idle',
    phase: '',
    done: 0,
    total: 0,
    tiles: [],
    targets: [],
    defects: [],
    summary: null,
  };
}

/** The zoom crop in grey, the model's probability as a red tint, the defect's box and outline in its class colour. */
export async function annotate(t: ThumbnailSource, colour: string): Promise<Buffer> {
  const n = t.width * t.height;
  const rgb = Buffer.alloc(n * 3);
  let max = 1;
  for (let i = 0; i < n; i++) max = Math.max(max, t.pixels[i]!);
  for (let i = 0; i < n; i++) {
    const g = (t.pixels[i]! * 255) / max;
    const p = t.probability ? Math.min(1, Math.max(0, t.probability[i]!)) * 0.6 : 0;
    rgb[i * 3] = Math.round(g * (1 - p) + 255 * p);
    rgb[i * 3 + 1] = Math.round(g * (1 - p));
    rgb[i * 3 + 2] = Math.round(g * (1 - p));
  }
  const scale = Math.max(1, Math.floor(512 / Math.max(t.width, t.height)));
  const [bx, by, bw, bh] = t.bboxPx.map((v) => v * scale) as [number, number, number, number];
  const contour =
    t.contourPx && t.contourPx.length > 2
      ? `<polygon points="${t.contourPx.map(([x, y]) => `${(x + 0.5) * scale},${(y + 0.5) * scale}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`
      : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${t.width * scale}" height="${t.height * scale}"><rect x="${bx}" y="${by}" width="${bw}" height="${bh}" fill="none" stroke="${colour}" stroke-width="1" stroke-dasharray="4 3"/>${contour}</svg>`;
  return sharp(rgb, { raw: { width: t.width, height: t.height, channels: 3 } })
    .resize(t.width * scale, t.height * scale, { kernel: 'nearest' })
    .composite([{ input: Buffer.from(svg) }])
    .jpeg({ quality: 85 })
    .toBuffer();
}
