/**
 * The switch: wires the SIP stack, the media engine, the TTS service and the Pivot interpreter together.
 * Owns every call; `close()` ends them all (BYE / 503) and releases the stack, the media workers and TTS.
 *
 * Inbound INVITE → route by Request-URI user (config `numbers`, then `*`) → SDP offer checked (488 when no
 * common codec; an INVITE without SDP is a delayed offer, answered in the ACK) → media session allocated → the
 * number's callflow runs in a PivotSession, which answers, speaks, collects and pivots through the Call's CallControl.
 */
import { RealClock, type Clock } from '../util/clock.js';
import { getLogger, type Logger } from '../util/logger.js';
import { SipStack, type IncomingRequest, type Dialog, type TimerSettings } from '../sip/index.js';
import { MediaEngine } from '../rtp/media-engine.js';
import { offerProblem, parseSdp, type SessionDescription } from '../rtp/sdp.js';
import { FliteEngine, PiperEngine, TtsService, type TtsEngine } from '../media/tts/index.js';
import { PivotSession, PivotDebugStore } from '../pivot/index.js';
import type { HooklineConfig } from '../cli/config.js';
import { routeFor } from '../cli/config.js';
import { Call, ALLOW, type CallDeps } from './call.js';
import { PromptRegistry } from './prompts.js';
import { OutboundLeg, type LegDeps } from './leg.js';
import { Registrar } from './registrar.js';
import { startAdmin, type AdminServer } from './admin.js';
import { SipResolver } from '../sip/resolve.js';
import { redactUrl } from '../util/errors.js';

/** Longest a recorded call's CDR waits for its recording uploads (they retry with back-off). */
const RECORDING_WAIT_MS = 120_000;
import { MediaLoader } from '../media/fetch.js';
import type { BridgerDeps } from './bridge.js';
import type { CallflowNode } from '../pivot/callflow.js';
import { CdrStore, cdrMedia, type CdrLeg, type CdrRecord } from './cdr.js';
import { flushRecordings } from './recording.js';
import { TrunkRegistrations } from './trunk-registration.js';
import { causeForStatus } from './numbers.js';
import { ConferenceManager, type ConferenceStats } from './conference.js';
import { OverloadGuard, PROBE_MS } from './overload.js';

/** Retry-After (s) on a call refused for overload. */
const SHED_RETRY_AFTER_S = 2;
/** At most one overload warning per this many ms. */
const SHED_LOG_MS = 10_000;

/** How long close() waits for recordings still encoding or uploading. */
const RECORDING_FLUSH_MS = 5000;

/** Anything the switch routes in-dialog requests to: an inbound call or an outbound leg. */
interface DialogOwner { handleInDialog(req: IncomingRequest): void }

export interface SwitchOptions {
  clock?: Clock;
  logger?: Logger;
  /** Share one TTS service between switches (tests); otherwise the switch makes and owns one. */
  tts?: TtsService;
  /** SIP timer overrides (T1/T2/T4 ms), for tests that check that transactions go away. */
  sipTimers?: Partial<TimerSettings>;
}

export interface SwitchStats {
  calls: number;
  dialogs: number;
  sip: ReturnType<SipStack['stats']>;
  media: ReturnType<MediaEngine['stats']>;
  prompts: number;
  timers: number;
  callsTotal: number;
  /** Outbound legs alive (ringing or bridged). */
  legs: number;
  legsTotal: number;
  /** Live registrations (contacts) of devices. */
  registrations: number;
  /** Carrier gateways we are registered with. */
  trunkRegistrations: number;
  /** Conference rooms open and calls in them. */
  conferences: ConferenceStats;
  /** Calls in setup: INVITE received, not yet answered or ended (bounded by `calls.maxInSetup`). */
  callsInSetup: number;
  /** INVITEs refused with 503 for overload: `calls.maxInSetup` calls already in setup, or by the overload guard. */
  callsShed: number;
  /** Share of new calls the overload guard refuses now (0–0.95), and the receive-queue delay it last measured (ms). */
  overload: { shedShare: number; queueDelayMs: number };
}

const KNOWN_NOT_ALLOWED = new Set(['REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'PUBLISH', 'REFER', 'UPDATE', 'PRACK']);

export class Switch {
  readonly calls = new Map<string, Call>();
  private readonly byDialog = new Map<string, DialogOwner>();
  /** Outbound legs alive. */
  readonly legs = new Set<OutboundLeg>();
  private legsTotal = 0;
  /** Registrar for `devices` (undefined when none are configured: REGISTER then gets 405). */
  get registrar(): Registrar | undefined { return this.registrarImpl; }
  private registrarImpl: Registrar | undefined;
  /** The running config (a reload swaps it; calls in progress keep the one they started with). */
  get config(): HooklineConfig { return this.configImpl; }
  private configImpl: HooklineConfig;
  private readonly bridging: BridgerDeps;
  /** Call detail records (one per call, every leg): query with `cdrs.query()`. */
  readonly cdrs: CdrStore;
  /** Our REGISTERs to carrier gateways that ask for it (`register: true`). */
  private trunkRegs: TrunkRegistrations;
  private readonly pivots = new Map<Call, PivotSession>();
  /** Conference rooms (`conference` module). */
  readonly conferences: ConferenceManager;
  readonly debugStore = new PivotDebugStore();
  private callsTotal = 0;
  /** Calls not yet answered or ended (bounded by `calls.maxInSetup`). */
  private inSetup = 0;
  private shedTotal = 0;
  /** Shed calls not yet logged: one warning per SHED_LOG_MS at most, however many are refused. */
  private shedUnlogged = 0;
  private shedLoggedAt = -Infinity;
  /** Refuses a share of new INVITEs (stateless 503, in the stack) while they wait in the receive queue: `calls.overloadGuard`. */
  private readonly guard: OverloadGuard;
  private closing: Promise<void> | undefined;
  private admin: AdminServer | undefined;
  private loader: { cfg: HooklineConfig['mediaFetch']; loader: MediaLoader } | undefined;

  /**
   * What every call gets from the switch: one object for all of them (it was built per call, with three closures:
   * 0.35 KB a call for as long as the call lasts). Rebuilt when a reload changes the calls' limits; calls in
   * progress keep the one they started with.
   */
  private callDeps(): CallDeps {
    const maxDurationMs = this.configImpl.calls.maxDurationSeconds * 1000;
    if (this.sharedCallDeps?.maxDurationMs !== maxDurationMs) {
      this.sharedCallDeps = {
        stack: this.stack,
        engine: this.engine,
        tts: this.tts,
        prompts: this.prompts,
        clock: this.clock,
        log: this.log,
        codecs: this.configImpl.rtp.codecs,
        mediaAddress: this.mediaAddress,
        rtpTimeoutMs: this.configImpl.rtp.timeoutSeconds * 1000,
        maxDurationMs,
        onEnded: (c) => this.callEnded(c),
        onAnswered: () => { this.inSetup--; },
        onDialog: (c, d: Dialog) => { this.stack.dialogs.add(d); this.byDialog.set(d.key, c); },
        bridging: this.bridging,
        conferences: this.conferences,
      };
    }
    return this.sharedCallDeps;
  }
  private sharedCallDeps: CallDeps | undefined;

  /** The media loader for `play`/stored media, built from `mediaFetch` (rebuilt when a reload changes it). */
  private mediaLoader(): MediaLoader {
    const cfg = this.configImpl.mediaFetch;
    if (!this.loader || this.loader.cfg !== cfg) {
      this.loader = {
        cfg,
        loader: new MediaLoader({
          clock: this.clock, logger: this.log.child({ part: 'media' }), maxBytes: cfg.maxBytes, timeoutMs: cfg.timeoutMs,
          maxSeconds: cfg.maxSeconds, cacheEntries: cfg.cacheEntries, cacheBytes: cfg.cacheBytes, maxAgeMs: cfg.maxAgeSeconds * 1000,
        }),
      };
    }
    return this.loader.loader;
  }

  private constructor(
    config: HooklineConfig,
    readonly stack: SipStack,
    readonly engine: MediaEngine,
    readonly tts: TtsService,
    private readonly ownsTts: boolean,
    readonly prompts: PromptRegistry,
    readonly clock: Clock,
    private readonly log: Logger,
    private readonly mediaAddress: string,
  ) {
    this.configImpl = config;
    this.guard = new OverloadGuard({ clock, queueDelay: () => stack.takeQueueDelay(), log: log.child({ part: 'overload' }) });
    stack.startQueueProbe(PROBE_MS); // always (ten tiny datagrams a second): a reload may turn the guard on
    stack.refuseRetryAfterS = SHED_RETRY_AFTER_S;
    stack.admitInvite = () => !this.configImpl.calls.overloadGuard || this.guard.admit();
    this.registrarImpl = config.devices.length > 0 ? new Registrar(config.registrar, config.devices, clock, log.child({ part: 'registrar' })) : undefined;
    // Gateways (calls and registrations) are located through one resolver and its cache (RFC 3263).
    const resolver = new SipResolver(config.sip.dnsServers ? { servers: config.sip.dnsServers } : {});
    const legDeps: LegDeps = {
      stack, engine, clock, log: log.child({ part: 'leg' }), codecs: config.rtp.codecs, mediaAddress,
      rtpTimeoutMs: config.rtp.timeoutSeconds * 1000,
      onDialog: (leg, d) => { this.stack.dialogs.add(d); this.byDialog.set(d.key, leg); },
      onStarted: (leg) => { this.legs.add(leg); this.legsTotal++; },
      onReleased: (leg) => this.legReleased(leg),
    };
    this.bridging = {
      config, clock, log, registrar: this.registrar, localHost: stack.contact().uri.host, legDeps,
      resolver,
    };
    this.conferences = new ConferenceManager(engine, log.child({ part: 'conference' }));
    this.cdrs = new CdrStore(config.cdr, log.child({ part: 'cdr' }));
    this.trunkRegs = new TrunkRegistrations(stack, clock, log.child({ part: 'trunk' }), config.carriers, resolver);
    this.trunkRegs.start();
    stack.onRequest = (req) => {
      try { this.onRequest(req); } catch (err) {
        this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'request handling failed');
        if (req.message.method !== 'ACK') req.respond(500, 'Server Internal Error');
      }
    };
  }

  /**
   * Config reload (`kill -HUP`): numbers, accounts, pivot settings, calls limits, media, menus, temporal rules,
   * carriers, devices, users, ring groups, registrar and CDR settings take effect for new calls. Registrations of
   * devices that remain are kept; bindings of removed devices are dropped; gateway registrations are redone when
   * the carriers changed. `sip`, `rtp`, `tts` and `log` need a restart here (sockets, workers, voices): they keep
   * their running values and are named in `restartNeeded` (the CLI applies `log.level` itself).
   */
  async reload(next: HooklineConfig): Promise<{ applied: string[]; restartNeeded: string[] }> {
    const old = this.configImpl;
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    const fixed = ['sip', 'rtp', 'tts', 'log', 'admin'] as const;
    const restartNeeded = fixed.filter((k) => !same(old[k], next[k]));
    const merged: HooklineConfig = { ...next, sip: old.sip, rtp: old.rtp, tts: old.tts, log: old.log, admin: old.admin };
    const applied = (Object.keys(merged) as Array<keyof HooklineConfig>).filter((k) => !same(old[k], merged[k]));
    this.configImpl = merged;
    this.bridging.config = merged;
    if (this.registrarImpl) this.registrarImpl.setDevices(merged.devices, merged.registrar);
    else if (merged.devices.length > 0) this.registrarImpl = new Registrar(merged.registrar, merged.devices, this.clock, this.log.child({ part: 'registrar' }));
    this.bridging.registrar = this.registrarImpl;
    this.cdrs.setConfig(merged.cdr);
    if (!same(old.carriers, merged.carriers)) {
      await this.trunkRegs.close();
      this.trunkRegs = new TrunkRegistrations(this.stack, this.clock, this.log.child({ part: 'trunk' }), merged.carriers, this.bridging.resolver);
      this.trunkRegs.start();
    }
    this.log.info({ applied, restartNeeded }, 'config reloaded');
    return { applied, restartNeeded };
  }

  static async start(config: HooklineConfig, opts: SwitchOptions = {}): Promise<Switch> {
    const clock = opts.clock ?? new RealClock();
    const log = opts.logger ?? getLogger('call');
    const sipAdvertise = config.sip.advertise;
    const rtpBind = config.rtp.address;
    const mediaAddress = config.rtp.advertise ?? sipAdvertise
      ?? (rtpBind === '0.0.0.0' || rtpBind === '::' ? (config.sip.listen !== '0.0.0.0' ? config.sip.listen : '127.0.0.1') : rtpBind);
    const engine = await MediaEngine.start({
      address: rtpBind,
      advertiseAddress: mediaAddress,
      portMin: config.rtp.portMin,
      portMax: config.rtp.portMax,
      rtpTimeoutMs: config.rtp.timeoutSeconds * 1000,
      ...(config.rtp.workers > 0 ? { workers: config.rtp.workers } : {}),
      niceness: config.rtp.niceness,
    });
    let stack: SipStack;
    try {
      const listen = { address: config.sip.listen, port: config.sip.port };
      stack = await SipStack.create({
        udp: config.sip.transports.includes('udp') ? listen : false,
        tcp: config.sip.transports.includes('tcp') ? listen : false,
        clock,
        userAgent: config.sip.userAgent,
        ...(sipAdvertise ? { publicAddress: sipAdvertise } : {}),
        ...(opts.sipTimers ? { timers: opts.sipTimers } : {}),
      });
    } catch (err) {
      await engine.close();
      throw err;
    }
    const engines = ttsEngines(config.tts);
    const tts = opts.tts ?? new TtsService({
      engines,
      cacheEntries: config.tts.cacheEntries,
      defaultVoice: config.tts.voice,
      defaultLanguage: config.tts.language,
      ...(config.tts.cacheDir ? { cacheDir: config.tts.cacheDir } : {}),
    });
    // The flite workers (about 45 MB) start with the first synthesis and stop after tts.idleSeconds without
    // calls, so an idle switch does not hold them; after that an arriving call restarts them (tts.wake(), in
    // parallel with the answer and the first webhook). tts.warmAtStart starts them now instead. Piper voices
    // (seconds to load) are preloaded now.
    if (!opts.tts) {
      const warm = config.tts.warmAtStart ? [tts.warmUp()] : engines.slice(1).map((e) => e.warmUp?.());
      for (const w of warm) void w?.catch((err: unknown) => log.warn({ err: String(err) }, 'TTS warm-up failed'));
    }
    const sw = new Switch(config, stack, engine, tts, !opts.tts, new PromptRegistry(engine), clock, log, mediaAddress);
    try { await sw.startAdmin(); } catch (err) { await sw.close(); throw new Error(`admin endpoint: ${String(err)}`); }
    return sw;
  }

  addresses(): { sip: Array<{ transport: 'udp' | 'tcp'; address: string; port: number }>; admin?: string } {
    const sip: Array<{ transport: 'udp' | 'tcp'; address: string; port: number }> = [];
    if (this.stack.udpPort) sip.push({ transport: 'udp', address: this.config.sip.listen, port: this.stack.udpPort });
    if (this.stack.tcpPort) sip.push({ transport: 'tcp', address: this.config.sip.listen, port: this.stack.tcpPort });
    return { sip, ...(this.admin ? { admin: this.admin.url } : {}) };
  }

  /** Start the admin HTTP endpoint when configured (`admin.port`); Switch.start does it. */
  async startAdmin(): Promise<void> {
    if (this.admin || this.configImpl.admin.port === undefined) return;
    this.admin = await startAdmin(this, this.configImpl.admin, this.log.child({ part: 'admin' }));
  }

  stats(): SwitchStats {
    const sip = this.stack.stats();
    return {
      calls: this.calls.size,
      dialogs: this.byDialog.size,
      sip,
      media: this.engine.stats(),
      prompts: this.prompts.inUse,
      timers: this.clock.pendingTimers,
      callsTotal: this.callsTotal,
      legs: this.legs.size,
      legsTotal: this.legsTotal,
      registrations: this.registrar?.bindingCount() ?? 0,
      trunkRegistrations: this.trunkRegs.registered,
      conferences: this.conferences.stats(),
      callsInSetup: this.inSetup,
      callsShed: this.shedTotal + sip.invitesRefused,
      overload: { shedShare: this.guard.shedShare, queueDelayMs: this.guard.queueDelayMs },
    };
  }

  private onRequest(req: IncomingRequest): void {
    const m = req.message;
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ method: m.method, callId: m.callId, from: req.source }, 'request');
    }
    if (m.to.tag !== undefined) {
      const d = this.stack.dialogs.findForRequest(m);
      const call = d ? this.byDialog.get(d.key) : undefined;
      if (m.method === 'ACK') return; // ACK of our 2xx is taken by the stack; a stray one is dropped.
      if (!call) { req.respond(481, 'Call/Transaction Does Not Exist'); return; }
      call.handleInDialog(req);
      return;
    }
    switch (m.method) {
      case 'INVITE': this.newCall(req); return;
      case 'REGISTER':
        if (this.registrar) { this.registrar.handleRegister(req); return; }
        req.respond(405, 'Method Not Allowed', { headers: { Allow: ALLOW } });
        return;
      case 'ACK': return;
      case 'OPTIONS':
        req.respond(200, 'OK', { headers: { Allow: ALLOW, Accept: 'application/sdp', 'Accept-Language': 'en' } });
        return;
      case 'BYE': case 'INFO':
        req.respond(481, 'Call/Transaction Does Not Exist');
        return;
      default:
        if (KNOWN_NOT_ALLOWED.has(m.method)) req.respond(405, 'Method Not Allowed', { headers: { Allow: ALLOW } });
        else req.respond(501, 'Not Implemented', { headers: { Allow: ALLOW } });
    }
  }

  private newCall(req: IncomingRequest): void {
    const m = req.message;
    if (this.closing) { req.respond(503, 'Service Unavailable'); return; }
    if (this.calls.has(m.callId)) { req.respond(482, 'Loop Detected'); return; }
    if (this.calls.size >= this.config.calls.maxConcurrent) {
      req.respond(503, 'Service Unavailable', { headers: { 'Retry-After': '5' } });
      return;
    }
    if (this.inSetup >= this.config.calls.maxInSetup) { this.shed(req); return; }
    const number = m.uri.user ?? '';
    const route = this.routeFor(number);
    if (!route) { req.respond(404, 'Not Found'); return; }
    // A call from a configured device must prove it (407 challenge); other callers are not asked.
    const fromUser = m.from.uri.user;
    if (this.registrar && fromUser !== undefined && this.registrar.device(fromUser) && !this.registrar.authenticate(req, true)) return;
    // No body: a delayed offer (RFC 3261 13.2.1): our offer goes in the 200 OK, the caller answers in its ACK.
    let offer: SessionDescription | undefined;
    if (m.body.length > 0) {
      const ct = (m.contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (ct !== 'application/sdp') {
        req.respond(415, 'Unsupported Media Type', { headers: { Accept: 'application/sdp' } });
        return;
      }
      const parsed = parseSdp(m.body.toString('utf8'));
      if (!parsed.ok) { req.respond(400, `Bad SDP: ${parsed.error}`.slice(0, 120)); return; }
      // Check the offer before spending a port on it: no common codec → 488.
      const problem = offerProblem(parsed.sdp, { codecs: this.config.rtp.codecs });
      if (problem) { req.respond(problem.status, problem.reason.slice(0, 120)); return; }
      offer = parsed.sdp;
    }

    // TTS workers stopped for idleness start again now, while the call is answered and its webhook is in flight.
    this.tts.wake();
    const call = new Call(this.callDeps(), req, offer, route.account);
    this.calls.set(call.info.callId, call); // its own copy of the Call-ID: the parsed one would keep the INVITE's text (util/strings.ts)
    this.callsTotal++;
    this.inSetup++;
    void this.runCall(call, route.flow);
  }

  private async runCall(call: Call, flow: Parameters<PivotSession['run']>[0]): Promise<void> {
    try {
      await call.prepareMedia();
    } catch (err) {
      this.log.error({ err: String(err), callId: call.info.callId }, 'no media session for the call');
      call.refuse(503, 'Service Unavailable (no media port)', 'media-error');
      return;
    }
    if (call.ended) return;
    const session = new PivotSession(call, {
      clock: this.clock,
      compat: this.config.pivot.compat,
      apiVersion: this.config.pivot.apiVersion,
      maxReqTimeoutMs: this.config.pivot.maxReqTimeoutMs,
      ...(this.config.pivot.recordingUrl !== undefined ? { recordingUrl: this.config.pivot.recordingUrl } : {}),
      debugStore: this.debugStore,
      storedConfig: this.config,
      media: this.mediaLoader(),
    });
    this.pivots.set(call, session);
    try {
      const result = await session.run(flow);
      this.log.debug({ callId: call.info.callId, reason: result.reason }, 'callflow finished');
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err), callId: call.info.callId }, 'callflow crashed');
    } finally {
      this.pivots.delete(call);
      if (!call.ended) await call.hangup();
    }
  }

  /** Exact number, then a device's or user's extension, then `*`. */
  private routeFor(number: string): { account: string; flow: CallflowNode } | undefined {
    const exact = this.config.numbers[number];
    if (exact) return exact;
    if (number.length > 0) {
      const account = this.config.accounts[0]?.id ?? 'default';
      const dev = this.config.devices.find((d) => d.extension === number);
      if (dev) return { account, flow: { module: 'device', data: { id: dev.id } } };
      const user = this.config.users.find((u) => u.extension === number);
      if (user) return { account, flow: { module: 'user', data: { id: user.id } } };
    }
    return routeFor(this.config, number);
  }

  private legReleased(leg: OutboundLeg): void {
    this.legs.delete(leg);
    this.forgetDialog(leg, leg.sipDialog);
  }

  /** Drop a finished call's or leg's dialog from both indexes (O(1); the index checks identity). */
  private forgetDialog(owner: Call | OutboundLeg, d: Dialog | undefined): void {
    if (!d || this.byDialog.get(d.key) !== owner) return;
    this.byDialog.delete(d.key);
    this.stack.dialogs.remove(d);
  }

  private cdrOf(call: Call): CdrRecord {
    const offset = Date.now() - this.clock.now();
    const iso = (t: number): string => new Date(offset + t).toISOString();
    const secs = (a: number, b: number): number => Math.max(0, Math.round((b - a) / 1000));
    const now = this.clock.now();
    const aEnd = now;
    const aStatus = call.finalStatus ?? (call.endReason === 'cancel' ? 487 : 500);
    const aCause = call.answeredAt !== undefined
      ? ({ 'rtp-timeout': 'MEDIA_TIMEOUT', 'ack-timeout': 'RECOVERY_ON_TIMER_EXPIRE', shutdown: 'SYSTEM_SHUTDOWN', 'media-error': 'NORMAL_TEMPORARY_FAILURE' } as Record<string, string>)[call.endReason ?? ''] ?? 'NORMAL_CLEARING'
      : call.endReason === 'cancel' ? 'ORIGINATOR_CANCEL' : causeForStatus(aStatus);
    const i = call.info;
    const legs: CdrLeg[] = [{
      callId: i.callId, direction: 'inbound', from: i.from, to: i.request, start: iso(call.startedAt),
      ...(call.answeredAt !== undefined ? { answer: iso(call.answeredAt) } : {}),
      end: iso(aEnd), durationSeconds: secs(call.startedAt, aEnd),
      billableSeconds: call.answeredAt !== undefined ? secs(call.answeredAt, aEnd) : 0,
      hangupCause: aCause, sipCode: aStatus,
      ...(call.codec ? { codec: call.codec } : {}),
      ...(call.endReason === 'remote-bye' || call.endReason === 'cancel' ? { endedBy: 'remote' as const } : { endedBy: 'local' as const }),
    }];
    for (const l of call.legs) {
      const end = l.endedAt ?? now;
      legs.push({
        callId: l.callId, direction: 'outbound', from: l.target.from.uri.user ?? '', to: l.target.uri.user ?? '', target: l.target.label,
        start: iso(l.startedAt), ...(l.answeredAt !== undefined ? { answer: iso(l.answeredAt) } : {}),
        end: iso(end), durationSeconds: secs(l.startedAt, end), billableSeconds: l.answeredAt !== undefined ? secs(l.answeredAt, end) : 0,
        hangupCause: l.answeredAt !== undefined ? 'NORMAL_CLEARING' : l.state === 'cancelled' ? 'ORIGINATOR_CANCEL' : causeForStatus(l.finalStatus ?? 500),
        sipCode: l.finalStatus ?? 500,
        ...(l.codec ? { codec: l.codec } : {}),
        ...(l.endedBy ? { endedBy: l.endedBy } : {}),
      });
    }
    return {
      callId: i.callId, accountId: i.accountId, start: legs[0]!.start, ...(legs[0]!.answer ? { answer: legs[0]!.answer } : {}),
      end: legs[0]!.end, durationSeconds: legs[0]!.durationSeconds, billableSeconds: legs[0]!.billableSeconds,
      hangupCause: aCause, sipCode: aStatus, legs,
    };
  }

  /**
   * Overload: `calls.maxInSetup` calls are already waiting for their answer (a slow web script, or many calls
   * ringing), so this one is refused at once (503, Retry-After) before any SDP, port or webhook is spent on it.
   * (The other overload, INVITEs waiting in the receive queue, is refused earlier still, in the stack: `guard`.)
   */
  private shed(req: IncomingRequest): void {
    req.respond(503, 'Service Unavailable (overloaded)', { headers: { 'Retry-After': String(SHED_RETRY_AFTER_S) } });
    this.shedTotal++;
    this.shedUnlogged++;
    const now = this.clock.now();
    if (now - this.shedLoggedAt >= SHED_LOG_MS) {
      this.log.warn({ refused: this.shedUnlogged, inSetup: this.inSetup, maxInSetup: this.config.calls.maxInSetup },
        'overloaded: new calls refused with 503 while calls.maxInSetup calls are in setup');
      this.shedLoggedAt = now;
      this.shedUnlogged = 0;
    }
  }

  private callEnded(call: Call): void {
    if (!call.answered) this.inSetup--;
    let rec: CdrRecord | undefined;
    try { rec = this.cdrOf(call); } catch (err) { this.log.error({ err: String(err) }, 'CDR failed'); }
    if (rec) {
      const r = rec;
      // The legs' media figures come with their sessions' close replies (bounded by the engine's close timeout).
      const sessions = [call.endedMedia, ...call.legs.map((l) => l.media)];
      const closing: Array<Promise<void>> = [];
      for (const s of sessions) { const c = s?.closing; if (c) closing.push(c); }
      if (closing.length === 0) this.cdrReady(call, r);
      else {
        void Promise.all(closing).then(() => {
          sessions.forEach((s, i) => { const q = s?.quality; const leg = r.legs[i]; if (q && leg) leg.media = cdrMedia(q); });
          this.cdrReady(call, r);
        });
      }
    }
    if (this.calls.get(call.info.callId) === call) this.calls.delete(call.info.callId);
    this.forgetDialog(call, call.sipDialog);
  }

  /** Store (and post) the record: at once, or once a recorded call's uploads settled (bounded). */
  private cdrReady(call: Call, r: CdrRecord): void {
    if (!call.recordings.used) { this.cdrs.add(r); return; }
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      call.recordings.settled(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, RECORDING_WAIT_MS); timer.unref(); }),
    ]).catch(() => undefined).then(() => {
      clearTimeout(timer);
      r.recordings = call.recordings.notes.map((o) => (o.kind === 'uploaded'
        ? { status: 'uploaded' as const, url: redactUrl(o.url), seconds: o.seconds }
        : o.kind === 'failed' ? { status: 'failed' as const, url: o.url, reason: o.error } : { status: 'skipped' as const, reason: o.why }));
      if (call.recordings.pendingUploads > 0) r.recordings.push({ status: 'failed', reason: `upload still running after ${RECORDING_WAIT_MS / 1000} s` });
      this.cdrs.add(r);
    });
  }

  /** End every call, then stop SIP, media and TTS. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await this.admin?.close();
    await Promise.race([
      Promise.all([...this.calls.values()].map((c) => c.shutdown())),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    this.conferences.close();
    await this.trunkRegs.close();
    await this.stack.close();
    this.prompts.clear();
    await this.engine.close();
    if (this.ownsTts) await this.tts.close();
    // recordings of the calls just ended are encoded and uploaded in the background: give them a moment
    const left = await flushRecordings(RECORDING_FLUSH_MS);
    if (left > 0) this.log.warn({ left }, 'recordings still uploading at shutdown');
  }
}

/** flite (the default engine), plus Piper voices from `voicesDir` (the configured default voice is preloaded). */
function ttsEngines(tts: HooklineConfig['tts']): TtsEngine[] {
  const flite = new FliteEngine({ workers: tts.workers, queueLimit: tts.queueLimit, idleMs: tts.idleSeconds * 1000 });
  const voicesDir = tts.voicesDir;
  if (!voicesDir) return [flite];
  return [
    flite,
    new PiperEngine({
      voicesDir,
      workers: tts.piperWorkers,
      threads: tts.piperThreads,
      timeoutMs: tts.piperTimeoutMs,
      queueLimit: tts.queueLimit,
      preload: [tts.voice],
    }),
  ];
}
