/**
 * Stage driver for GRBL 1.1 controllers (custom gantries, CNC-style XY tables with a focus axis).
 *
 * A move: `G21G90G53G0X…Y…Z…` (machine coordinates; G1 with F when slower than the axes' max rates), then `G4P0`, whose
 * `ok` comes only when the planner is empty. While waiting, `?` status reports are polled at ≤ 5 Hz: they give the
 * position as it changes, reveal alarms and holds, and let the driver notice acknowledgements that were garbled on the
 * wire (Idle with empty buffers twice in a row while `ok`s are still owed). Then the settle time, and the position is
 * read back.
 *
 * Stops: controlled stop is feed hold `!` until `Hold:0` (decelerated, position kept), then Ctrl-X to flush the
 * planner; a jog is cancelled with 0x85 instead (grblHAL ignores `!` during a jog); emergency stop is Ctrl-X at once
 * (GRBL then reports ALARM:3 if anything moved, and wants homing).
 *
 * Alarms, after the GRBL 1.1 interface description: a hard or soft limit (ALARM:1/2) locks the controller until a
 * reset, which it takes only once it has printed `[MSG:Reset to continue]` (~580 ms later on Grbl 1.1h, ~100 ms on
 * grblHAL): the driver waits for that message, resets, and then unlocks (`$X`) where the position survived (ALARM:2)
 * or homes (`$H`) where it did not — or unlocks when homing is disabled ($22=0), which leaves the controller's count as
 * the position. The family (Grbl 1.1h, grblHAL, FluidNC, Grbl_ESP32) is read from the banner and `$I`.
 */
import type { Duplex } from 'node:stream';
import { raceAbort, realDelay } from '../abort.js';
import type { StageConfig } from '../config.js';
import { SerialStage, type SerialStageDeps } from '../serial-stage.js';
import { checkSoftLimits, stageError, STAGE_AXES, type MotionSettings, type StageAxis, type StageError, type StagePose } from '../stage.js';
import type { ControllerVec } from '../units.js';
import { GrblChannel } from './channel.js';
import { CRITICAL_ALARMS, grblAlarmText, POSITION_LOST_ALARMS } from './codes.js';
import type { GrblFirmwareName, GrblFrame, GrblStatus } from './parser.js';
import { jogLine, moveLine, RT, settingLine, SYNC_LINE } from './writer.js';

const noop = (): void => undefined;

export class GrblStage extends SerialStage {
  readonly id: string;
  private ch: GrblChannel | null = null;
  private readonly settings = new Map<number, number>();
  private plannerBlocks = 15;
  private hasBufferField = false;
  private speedMmPerMin: number | null = null;
  private wco: number[] | null = null;
  /** "[MSG:Reset to continue]": GRBL ignores everything but Ctrl-X until reset. */
  private needsReset = false;
  private resetWaiters: Array<() => void> = [];
  /** A critical alarm came and its `[MSG:Reset to continue]` has not yet: a reset sent now would be lost. */
  private resetMessagePending = false;
  private resetMessageWaiters: Array<() => void> = [];
  /** The last alarm's code (null: none since the last recovery). */
  private lastAlarm: number | null = null;
  private firmware: GrblFirmwareName = 'Grbl';
  /** The last banner came after a reset this driver sent (not a power-up or someone else's reset). */
  private lastResetAsked = false;
  private resetSentAt: number | null = null;
  private jogging = false;
  private readonly counters = { alarms: 0, resets: 0, lostAcksResynced: 0, unaskedResets: 0, alarmRecoveries: 0, unlocks: 0, rxBufferBytes: 0 };

  constructor(config: StageConfig, deps: SerialStageDeps) {
    super(config, deps);
    this.id = `grbl:${deps.transport.description}`;
  }

  protected unitsPerUm(): number {
    return 1 / 1000; // commands are always G21 (mm); inch reports ($13=1) are converted when parsed
  }

  /** A `$` setting as read from the controller when connecting (or written since); undefined when it has none. */
  controllerSetting(id: number): number | undefined {
    return this.settings.get(id);
  }

  private channel(): GrblChannel {
    if (!this.ch) throw stageError('stage is not connected', { disconnected: true });
    return this.ch;
  }

  protected attach(stream: Duplex): void {
    const ch = new GrblChannel(stream, { rxBufferBytes: this.config.grbl.rxBufferBytes, replyTimeoutMs: this.config.replyTimeoutMs });
    ch.on('alarm', (code: number) => this.onAlarm(code));
    ch.on('reset', (f: Extract<GrblFrame, { type: 'welcome' }>) => this.onReset(f));
    ch.on('status', (st: GrblStatus) => this.onStatus(st));
    ch.on('message', (f: Extract<GrblFrame, { type: 'message' }>) => this.onMessage(f));
    ch.on('garbage', (f: Extract<GrblFrame, { type: 'garbage' }>) => this.log.debug({ text: f.text, reason: f.reason }, 'garbage from GRBL'));
    ch.on('stray', (f: GrblFrame) => this.log.debug({ frame: f }, 'GRBL acknowledgement with no line waiting'));
    ch.on('stale', () => this.log.info('GRBL reply left on the line from an earlier session discarded'));
    this.ch = ch;
    this.wco = null;
    this.needsReset = false;
    this.resetMessagePending = false;
    this.lastAlarm = null;
  }

  protected detach(err: Error): void {
    this.ch?.close(err);
    this.ch = null;
    const ws = [...this.resetWaiters, ...this.resetMessageWaiters];
    this.resetWaiters = [];
    this.resetMessageWaiters = [];
    for (const w of ws) w();
  }

  // ---- handshake --------------------------------------------------------------------------------------------------

  protected async handshake(signal: AbortSignal | undefined): Promise<void> {
    const ch = this.channel();
    // A board that resets when the port opens needs a moment before it answers; keep asking until it does.
    const budget = this.config.grbl.welcomeWaitMs + this.config.replyTimeoutMs;
    const t0 = performance.now();
    let st: GrblStatus | null = null;
    while (!st) {
      try {
        st = await raceAbort(
          this.io(() => ch.status(Math.min(this.config.replyTimeoutMs, 500))),
          signal,
        );
      } catch (err) {
        if ((err as { code?: string }).code !== 'TIMEOUT') throw err;
        if (performance.now() - t0 > budget) {
          throw stageError(`GRBL on ${this.deps.transport.description} answered no status query within ${budget} ms`, { code: 'TIMEOUT' });
        }
      }
    }
    if (st.state === 'Alarm') {
      this.positionLost = true;
      this.alarmDetail ||= 'controller is in alarm; its position is unknown';
    }
    // A move left running (the link dropped mid-move) ends on its own; it is never re-sent.
    while (st.state === 'Run' || st.state === 'Jog' || st.state === 'Home' || (st.state === 'Hold' && st.subState === 1)) {
      await this.clock.sleep(this.pollMs, signal);
      st = await this.status(signal);
    }
    if (st.state === 'Hold') await this.softReset(); // paused motion must not resume by itself later
    if (st.state === 'Door') throw stageError('GRBL reports the safety door open', { code: 'ALARM', firmwareCode: 'Door' });

    if (st.homed === false) {
      // grblHAL says it has not homed since power-up: whatever it counts from is not the machine origin.
      this.positionLost = true;
      this.alarmDetail = 'controller not homed since power-up (H:0)';
    }

    // Replies left on the line from an earlier session are skipped: `$I` must bring its [VER:…] line.
    const info = await this.io(() => ch.send('$I', { expect: (fs) => fs.some((f) => f.type === 'message' && f.tag === 'VER') }));
    let rxBytes = this.config.grbl.rxBufferBytes;
    for (const f of info) {
      if (f.type !== 'message') continue;
      if (f.tag === 'OPT') {
        const [, blocks, rx] = f.text.split(',');
        if (blocks && /^\d+$/.test(blocks)) this.plannerBlocks = Number(blocks);
        if (rx && /^\d+$/.test(rx)) rxBytes = Number(rx);
      }
      if (f.tag === 'FIRMWARE' && f.text === 'grblHAL') this.firmware = 'grblHAL';
      if (f.tag === 'VER' && f.text.includes('FluidNC')) this.firmware = 'FluidNC';
    }
    await this.readSettings();
    await this.checkSettings();
    this.checkMachineSpace();
    // An empty receive buffer must read as the size `$I` gave; grblHAL's reads one less (it keeps a byte free), and
    // counting to the `$I` size would both overflow it by one and defeat the lost-ack proof. Trust the smaller.
    if (this.hasBufferField) {
      const idle = await this.status(signal);
      if (idle.state === 'Idle' && idle.bufferBytes !== undefined && idle.bufferBytes > 0 && idle.bufferBytes < rxBytes) rxBytes = idle.bufferBytes;
    } else if (this.firmware === 'grblHAL') rxBytes -= 1;
    ch.rxBufferBytes = rxBytes;
    this.counters.rxBufferBytes = rxBytes;
    if (((this.settings.get(10) ?? 1) & 1) === 0) {
      // Work positions only: the offset (WCO) comes in every 10th to 30th report; collect it before trusting positions.
      for (let i = 0; i < 35 && !this.wco; i++) await this.status(signal);
    }
  }

  private async readSettings(): Promise<void> {
    const frames = await this.io(() => this.channel().send('$$', { expect: (fs) => fs.some((f) => f.type === 'setting') }));
    for (const f of frames)
      if (f.type === 'setting' && /^\d+$/.test(f.key) && Number.isFinite(Number(f.value))) this.settings.set(Number(f.key), Number(f.value));
  }

  private async checkSettings(): Promise<void> {
    const write = this.config.grbl.writeSettings;
    for (const [i, a] of STAGE_AXES.entries()) {
      const want = this.config.axes[a].stepsPerUm * 1000;
      const have = this.settings.get(100 + i);
      if (have !== undefined && Math.abs(have - want) <= 1e-6 * want + 5e-4) continue;
      if (!write) {
        throw stageError(
          `GRBL $${100 + i} (${a} steps/mm) is ${have?.toFixed(3) ?? 'missing'} but stage.axes.${a}.stepsPerUm ${this.config.axes[a].stepsPerUm} means ${want.toFixed(3)}; fix the config or set stage.grbl.writeSettings`,
          { code: 'CONFIG' },
        );
      }
      await this.writeSetting(100 + i, want);
    }
    const mask = this.settings.get(10) ?? 1;
    if ((mask & 3) !== 3 && write) await this.writeSetting(10, mask | 3);
    this.hasBufferField = ((this.settings.get(10) ?? 1) & 2) !== 0;
  }

  /**
   * With soft limits on ($20=1) GRBL accepts targets only in machine space −$13x…0 (zero at the end the axis homes to
   * when it homes toward +, −$13x at the switch when it homes toward − ($23)). The stage's travel, mapped through
   * `stage.axes.*.direction` and `originUm`, must lie inside it, or every move would raise ALARM:2.
   */
  private checkMachineSpace(): void {
    if (this.settings.get(20) !== 1) return;
    for (const [i, a] of STAGE_AXES.entries()) {
      const travel = this.settings.get(130 + i);
      if (travel === undefined || !(travel > 0)) continue;
      const ax = this.config.axes[a];
      const lo = -travel;
      const hi = 0;
      const m = [ax.minUm, ax.maxUm].map((u) => ((u - ax.originUm) * ax.direction) / 1000);
      const mlo = Math.min(...m);
      const mhi = Math.max(...m);
      if (mlo >= lo - 5e-4 && mhi <= hi + 5e-4) continue;
      const towardMinus = ((this.settings.get(23) ?? 0) & (1 << i)) !== 0;
      const home = towardMinus ? lo : hi;
      const suggest = ax.direction > 0 ? ax.maxUm - hi * 1000 : ax.minUm + hi * 1000;
      const mm = (v: number): string => (Math.abs(v) < 5e-7 ? 0 : v).toFixed(3);
      const fit = ax.maxUm - ax.minUm > travel * 1000 + 0.5 ? ` and narrow stage.axes.${a}.minUm/maxUm to the ${travel} mm of travel` : '';
      throw stageError(
        `GRBL soft limits ($20=1) accept ${a} only in machine space ${mm(lo)}…${mm(hi)} mm (${a} homes toward ${towardMinus ? '−' : '+'} ($23), its home end reads ${mm(home)} mm), ` +
          `but stage.axes.${a} (direction ${ax.direction}, originUm ${ax.originUm}) puts the stage travel ${ax.minUm}…${ax.maxUm} µm at ${mm(mlo)}…${mm(mhi)} mm; set stage.axes.${a}.originUm to ${suggest}${fit}`,
        { code: 'CONFIG' },
      );
    }
  }

  private async writeSetting(id: number, value: number): Promise<void> {
    this.log.info({ setting: `$${id}`, value }, 'writing GRBL setting');
    await this.io(() => this.channel().send(settingLine(id, value)));
    this.settings.set(id, value);
  }

  // ---- position ---------------------------------------------------------------------------------------------------

  private async status(signal?: AbortSignal): Promise<GrblStatus> {
    let last: Error | null = null;
    for (let i = 0; i <= this.config.retries; i++) {
      try {
        return await raceAbort(
          this.io(() => this.channel().status()),
          signal,
        );
      } catch (err) {
        last = err as Error;
        if ((err as { code?: string }).code !== 'TIMEOUT') throw err;
      }
    }
    throw last!;
  }

  /** Machine position in mm from a report (WPos + WCO when the controller reports work coordinates). */
  private machinePosition(st: GrblStatus): number[] {
    const inch = this.settings.get(13) === 1 ? 25.4 : 1;
    if (st.mpos) return st.mpos.slice(0, 3).map((v) => v * inch);
    const wco = st.wco ?? this.wco;
    if (st.wpos && wco) return st.wpos.slice(0, 3).map((v, i) => (v + wco[i]!) * inch);
    throw stageError('GRBL reports work positions (WPos) but sent no work offset (WCO) in 35 reports; set $10=1 or stage.grbl.writeSettings', {
      code: 'PROTOCOL',
    });
  }

  protected async readRaw(signal: AbortSignal | undefined): Promise<number[]> {
    return this.machinePosition(await this.status(signal));
  }

  private onStatus(st: GrblStatus): void {
    if (st.wco) this.wco = st.wco;
    if (st.homed === false && !this.positionLost && (this.state === 'idle' || this.state === 'moving')) {
      this.enterAlarm(stageError('GRBL reports it is not homed (H:0): it restarted, its position is unknown', { code: 'ALARM', firmwareCode: 'H:0' }), true);
    }
    if (st.state === 'Alarm' && this.state !== 'alarm' && this.state !== 'connecting' && this.state !== 'disconnected' && !this.positionLost) {
      // The ALARM line itself was lost on the wire; the report still says so.
      this.enterAlarm(stageError('GRBL reports Alarm state (the alarm message was lost)', { code: 'ALARM', firmwareCode: 'Alarm' }), true);
    }
  }

  // ---- motion -----------------------------------------------------------------------------------------------------

  protected async runMove(ctrl: ControllerVec, relative: boolean, speedFraction: number, _target: Partial<StagePose>, signal: AbortSignal): Promise<void> {
    const ch = this.channel();
    let feed: number | undefined;
    if (speedFraction < 1 || this.speedMmPerMin !== null) feed = (this.speedMmPerMin ?? this.maxRate(Object.keys(ctrl) as StageAxis[])) * speedFraction;
    // The move and G4 are streamed together. Neither acknowledgement has a time-out of its own: the status polls watch
    // the controller, and if an `ok` is garbled on the wire they show GRBL idle with nothing left to do.
    const ack = ch.send(moveLine(ctrl, { relative, feedMmPerMin: feed }), { timeoutMs: null });
    const sync = ch.send(SYNC_LINE, { timeoutMs: null });
    const done = Promise.all([ack, sync]);
    done.catch(noop);
    if (this.clock.simulated) this.holdUntil(this.receiptProbe(ch));
    await this.waitForIdle(done, signal);
  }

  /** Polls status until `done` resolves (or the controller is shown idle with every line processed). */
  private async waitForIdle(done: Promise<unknown>, signal: AbortSignal): Promise<void> {
    const ch = this.channel();
    const poll = new AbortController();
    let finished = false;
    done.then(
      () => {
        finished = true;
        poll.abort();
      },
      () => poll.abort(),
    );
    const stopPoll = (): void => poll.abort();
    signal.addEventListener('abort', stopPoll, { once: true });
    try {
      let idleReports = 0;
      while (!finished && !signal.aborted) {
        await this.clock.sleep(this.pollMs, poll.signal).catch(noop);
        if (finished || signal.aborted) break;
        if (poll.signal.aborted) await done; // rejected: throws
        const st = await this.status(signal);
        this.reportRaw(this.machinePosition(st));
        const empty = st.bufferBlocks === undefined ? !this.hasBufferField : st.bufferBlocks >= this.plannerBlocks && (st.bufferBytes ?? 0) >= ch.rxBufferBytes;
        idleReports = st.state === 'Idle' && empty ? idleReports + 1 : 0;
        if (idleReports >= (this.hasBufferField ? 2 : 3) && ch.pendingLines > 0) {
          const n = ch.resyncLostAcks();
          this.counters.lostAcksResynced += n;
          this.log.warn({ lines: n }, 'GRBL idle with empty buffers but acknowledgements missing: they were lost on the wire');
          finished = true;
        }
      }
      if (!signal.aborted) await done;
    } finally {
      signal.removeEventListener('abort', stopPoll);
      poll.abort();
    }
    if (signal.aborted) return;
    // Confirm with a fresh report (G4's ok means the planner is empty; a hold pressed on the machine would not be).
    let st = await this.status(signal);
    while (st.state !== 'Idle') {
      if (st.state === 'Alarm') throw stageError('GRBL went into alarm during the move', { code: 'ALARM', firmwareCode: 'Alarm' });
      await this.clock.sleep(this.pollMs, signal);
      st = await this.status(signal);
    }
    this.reportRaw(this.machinePosition(st));
  }

  /**
   * For the twin's clock only: a status query right behind a line. Bytes arrive in order, so its report proves the line
   * reached the (simulated) controller before instrument time may move on. (GRBL ignores `?` while homing; the grace
   * period of the hold covers that.)
   */
  private receiptProbe(ch: GrblChannel): Promise<unknown> {
    const p = ch.status(250, { fresh: true });
    p.catch(noop);
    return p;
  }

  private maxRate(axes: StageAxis[]): number {
    const rates = axes.map((a) => this.settings.get(110 + STAGE_AXES.indexOf(a)) ?? 500);
    return Math.min(...rates);
  }

  /**
   * A `$J=` jog by `delta` µm at `feedUmPerS` (for a technician's manual moves): GRBL refuses it beyond travel instead
   * of alarming, and jog cancel stops it cleanly. Resolves when GRBL is idle again, with the position read back.
   */
  jog(delta: Partial<StagePose>, opts: { feedUmPerS: number; signal?: AbortSignal }): Promise<StagePose> {
    try {
      this.assertReady();
      if (!(opts.feedUmPerS > 0)) throw new RangeError(`jog feed ${opts.feedUmPerS} µm/s must be positive`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(opts.signal, 'jog', (sig) =>
      this.motionOp('moving', sig, async (s) => {
        this.jogging = true;
        const here = await this.readPose(s);
        const target: Partial<StagePose> = {};
        for (const a of STAGE_AXES) if (delta[a] !== undefined) target[a] = here[a] + delta[a]!;
        checkSoftLimits(this.limits, target);
        const ch = this.channel();
        await this.io(() => ch.send(jogLine(this.axes.deltaToController(delta), { relative: true, feedMmPerMin: (opts.feedUmPerS * 60) / 1000 })));
        let st = await this.status(s);
        while (st.state === 'Jog' || st.state === 'Run') {
          await this.clock.sleep(this.pollMs, s);
          st = await this.status(s);
          this.reportRaw(this.machinePosition(st));
        }
        this.jogging = false;
        return this.readPose(s);
      }).finally(() => {
        this.jogging = false;
      }),
    );
  }

  // ---- homing, settings, stops ------------------------------------------------------------------------------------

  protected async runHome(signal: AbortSignal | undefined): Promise<void> {
    await this.resetAfterCriticalAlarm(signal);
    if (this.lastAlarm === 2 && !this.positionLost) {
      // A soft-limit alarm keeps the position ("may be safely unlocked"): unlock, no homing cycle.
      await this.unlock();
      this.lastAlarm = null;
      this.counters.alarmRecoveries++;
      return;
    }
    if ((this.settings.get(22) ?? 0) === 0) {
      // Homing disabled: nothing can find the machine origin. Unlock and take the controller's count as it stands.
      await this.unlock();
      this.log.warn('GRBL homing is disabled ($22=0): unlocked with $X; the position is the controller’s count, not a homed one');
      return;
    }
    const ch = this.channel();
    const home = ch.send('$H', { timeoutMs: null });
    home.catch(noop);
    if (this.clock.simulated) this.holdUntil(this.receiptProbe(ch));
    const timer = new AbortController();
    const limitMs = this.config.homingTimeoutS * 1000;
    // The cycle gets homingTimeoutS of instrument time; its `ok`, like any reply, then gets the reply time-out of real
    // time to arrive (under SimClock time may have jumped while the `ok` was still on the wire).
    const timeout = this.clock
      .sleep(limitMs, timer.signal)
      .then(() => realDelay(this.config.replyTimeoutMs, timer.signal))
      .then(() => {
        throw stageError(`GRBL homing did not finish within ${this.config.homingTimeoutS} s`, { code: 'TIMEOUT' });
      });
    timeout.catch(noop);
    try {
      await raceAbort(Promise.race([home, timeout]), signal, 'homing');
      // Answering at once also tells a simulated controller its `ok` arrived (it holds the twin's clock until then).
      await this.status(signal);
    } catch (err) {
      // GRBL answers no status while homing; a reset is the only way to stop it (ALARM:6 follows).
      if (signal?.aborted || (err as { code?: string }).code === 'TIMEOUT') this.sendReset(ch);
      throw err;
    } finally {
      timer.abort();
    }
    this.needsReset = false;
  }

  protected async runMotion(s: Partial<MotionSettings>, _signal: AbortSignal | undefined): Promise<MotionSettings> {
    if (s.accelUmPerS2 !== undefined) {
      const mm = s.accelUmPerS2 / 1000;
      // GRBL keeps accelerations in EEPROM ($120/$121): write only when they change.
      for (const id of [120, 121]) if (Math.abs((this.settings.get(id) ?? 0) - mm) > 1e-6) await this.writeSetting(id, mm);
    }
    const xyMax = this.maxRate(['x', 'y']);
    if (s.speedUmPerS !== undefined) this.speedMmPerMin = Math.min((s.speedUmPerS * 60) / 1000, xyMax);
    return {
      speedUmPerS: ((this.speedMmPerMin ?? xyMax) * 1000) / 60,
      accelUmPerS2: Math.min(this.settings.get(120) ?? 10, this.settings.get(121) ?? 10) * 1000,
    };
  }

  /**
   * After ALARM:1/2 the controller takes a reset only once it has printed `[MSG:Reset to continue]`; wait for that
   * (the firmware's own pause, instrument time, plus a reply time-out of real time for the bytes), then reset.
   */
  private async resetAfterCriticalAlarm(signal?: AbortSignal): Promise<void> {
    if (this.resetMessagePending) {
      const said = new Promise<void>((resolve) => this.resetMessageWaiters.push(resolve));
      const timer = new AbortController();
      const limit = this.clock
        .sleep(2000, timer.signal)
        .then(() => realDelay(this.config.replyTimeoutMs, timer.signal))
        .catch(noop);
      try {
        await raceAbort(Promise.race([said, limit]), signal, 'alarm recovery');
      } finally {
        timer.abort();
      }
      if (this.resetMessagePending) this.log.warn('GRBL did not say "Reset to continue" after its alarm; resetting anyway');
      this.resetMessagePending = false;
      this.needsReset = true;
    }
    if (this.needsReset) await this.softReset();
  }

  /** Ctrl-X, remembered: a banner within a few seconds of it answers it, even after the wait for it gave up. */
  private sendReset(ch: GrblChannel): void {
    this.resetSentAt = performance.now();
    ch.realtime(RT.SOFT_RESET);
  }

  private async unlock(): Promise<void> {
    await this.io(() => this.channel().send('$X'));
    this.counters.unlocks++;
  }

  /**
   * A move failed on an alarm that keeps the position (ALARM:2, soft limit): reset when the controller allows it and
   * unlock, so the next move runs. Alarms that lose the position leave the stage in `alarm` until home().
   */
  protected override async recoverAfterAlarm(err: StageError): Promise<void> {
    const code = this.lastAlarm;
    if ((err as { code?: string }).code !== 'ALARM' || code !== 2 || this.positionLost || !this.ch) return;
    await this.resetAfterCriticalAlarm();
    await this.unlock();
    this.lastAlarm = null;
    this.alarmDetail = '';
    this.counters.alarmRecoveries++;
    this.setState('idle');
    this.log.info('GRBL soft-limit alarm cleared: reset, unlocked, position kept');
  }

  protected async haltControlled(): Promise<void> {
    const ch = this.ch;
    if (!ch) return;
    if (this.state === 'homing') {
      this.sendReset(ch);
      return;
    }
    if (this.jogging) {
      // Jog cancel: decelerates and empties the jog from the planner; no reset needed (grblHAL ignores `!` in a jog).
      ch.realtime(RT.JOG_CANCEL);
      let st = await this.status().catch(() => null);
      for (let i = 0; i < 100 && st && (st.state === 'Jog' || st.state === 'Run'); i++) {
        await this.clock.sleep(this.pollMs);
        st = await this.status().catch(() => null);
      }
      if (st?.state === 'Idle') return;
    }
    if (this.state !== 'moving' && ch.pendingLines === 0) return;
    // Feed hold decelerates a move (and cancels a jog); a reset at Hold:0 then flushes the planner and keeps the position.
    ch.realtime(RT.FEED_HOLD);
    let st = await this.status().catch(() => null);
    for (let i = 0; i < 100 && st && !(st.state === 'Idle' || (st.state === 'Hold' && st.subState === 0) || st.state === 'Alarm'); i++) {
      await this.clock.sleep(this.pollMs);
      st = await this.status().catch(() => null);
    }
    if (st?.state !== 'Alarm') await this.softReset();
  }

  protected async haltImmediate(): Promise<void> {
    await this.softReset();
  }

  /** Ctrl-X; resolves when the banner shows GRBL restarted (or after the reply timeout). */
  private async softReset(): Promise<void> {
    const ch = this.ch;
    if (!ch) return;
    const banner = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.config.replyTimeoutMs);
      this.resetWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    await this.io(async () => {
      this.sendReset(ch);
      await banner;
    });
    this.needsReset = false;
  }

  private onReset(f: Extract<GrblFrame, { type: 'welcome' }>): void {
    this.counters.resets++;
    this.firmware = f.firmware;
    this.needsReset = false;
    this.resetMessagePending = false;
    const ws = this.resetWaiters;
    this.resetWaiters = [];
    this.lastResetAsked = ws.length > 0 || (this.resetSentAt !== null && performance.now() - this.resetSentAt < 5000);
    this.resetSentAt = null;
    if (!this.lastResetAsked) {
      // Nobody here asked for it: the board restarted (power, a reset button, DTR). Its counters start from zero.
      this.counters.unaskedResets++;
      this.log.warn({ banner: f.text }, 'GRBL restarted without being asked; its position is unknown');
      if (this.state === 'connecting') {
        this.positionLost = true;
        this.alarmDetail ||= 'controller restarted while connecting; its position is unknown';
      } else if (this.state !== 'disconnected') {
        this.enterAlarm(
          stageError(`GRBL restarted without being asked (banner "${f.text}"); its position is unknown`, { code: 'ALARM', firmwareCode: 'reset' }),
          true,
        );
      }
    }
    for (const w of ws) w();
  }

  private onAlarm(code: number): void {
    this.counters.alarms++;
    this.lastAlarm = code;
    if (CRITICAL_ALARMS.has(code)) this.resetMessagePending = true;
    const err = stageError(`GRBL ALARM:${code} (${grblAlarmText(code, this.firmware)})`, { code: 'ALARM', firmwareCode: `ALARM:${code}` });
    this.enterAlarm(err, POSITION_LOST_ALARMS.has(code));
  }

  private onMessage(f: { tag: string; text: string }): void {
    if (f.tag !== 'MSG') return;
    if (f.text === 'Reset to continue') {
      this.needsReset = true;
      this.resetMessagePending = false;
      const ws = this.resetMessageWaiters;
      this.resetMessageWaiters = [];
      for (const w of ws) w();
    } else if (f.text.startsWith('Grbl_ESP32')) this.firmware = 'Grbl';
    else if (f.text.includes("'$H'|'$X' to unlock") && !this.lastResetAsked) {
      // Locked after a restart nobody here asked for (power-up): the position is unknown. After our own reset the lock
      // only carries the alarm over, and that alarm already said whether the position survived.
      this.positionLost = true;
      this.alarmDetail = 'controller started locked; its position is unknown';
      if (this.state === 'idle' || this.state === 'moving') {
        this.enterAlarm(stageError('GRBL restarted locked (position unknown)', { code: 'ALARM', firmwareCode: 'Alarm' }), true);
      }
    }
    this.log.info({ msg: f.text }, 'GRBL message');
  }

  protected protocolStats(): Record<string, number> {
    return { ...(this.ch?.stats ?? {}), ...this.counters };
  }
}
