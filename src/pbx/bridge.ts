/**
 * Bridging: from a `resources` or `device`/`user`/`ring_group` request to outbound legs, and from the leg that
 * answers to a conversation (both media sessions on one worker, relayed by header rewrite).
 *
 * - `Bridger.resources()`: carriers of the account (use_local_resources) or the global ones, filtered by
 *   rules and flags, by priority; their gateways one after another, the next on 408, 5xx or a transport
 *   failure; busy, rejected, not found or no answer stop there.
 * - `Bridger.endpoints()`: devices (and users' devices) to their registered contacts; simultaneous (all at
 *   once, per-endpoint delay) or single (one after another), `repeats` times.
 * - Ringing: a 183 with SDP is relayed to the caller as early media (unless ignore_early_media); a 180, or
 *   early media ignored, gives the caller 180 Ringing while it is still plainly ringing, or a local ringback
 *   tone (440+480 Hz, 2 s on, 4 s off) in-band once it hears early media or is answered.
 * - Answered: the caller is answered (if not yet), the media sessions bridged; the first BYE from either
 *   side is carried to the other; a hold (re-INVITE sendonly/inactive) or resume on either side is re-offered
 *   to the other with a re-INVITE of ours (hold.ts). The caller hanging up while legs ring cancels them (CANCEL → 487).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { MediaSession } from '../rtp/media-engine.js';
import type { NameAddr, SipUri, Source } from '../sip/index.js';
import type {
  BridgeCallerId, BridgeOutcome, CallInfo, EndpointsRequest, PlayOutcome, Prompt, ResourcesRequest, UriRequest,
} from '../pivot/call-control.js';
import type { CarrierConfig, DeviceConfig, HooklineConfig } from '../cli/config.js';
import { OutboundLeg, type LegDeps, type LegTarget } from './leg.js';
import { causeForStatus, formatForCarrier, isGatewayFailure, toE164 } from './numbers.js';
import type { Registrar } from './registrar.js';
import { parseUri } from '../sip/index.js';
import { locate, type SipResolver, type SipTarget } from '../sip/resolve.js';
import type { HoldSync } from './hold.js';
import { ABORTED } from '../util/errors.js';

/** What the bridger needs from the inbound call (implemented by `Call`). */
export interface BridgeHost {
  readonly info: CallInfo;
  readonly ended: boolean;
  readonly answered: boolean;
  readonly mediaSession: MediaSession | undefined;
  answer(): Promise<void>;
  /** 180 to a caller that is still plainly ringing (true), else false: early media or answered. */
  ring(): boolean;
  /** False when the caller cannot get early media (a delayed offer: no SDP of its own to answer in a 183). */
  readonly earlyMediaPossible?: boolean;
  play(prompt: Prompt, options?: { signal?: AbortSignal; earlyMedia?: boolean }): Promise<PlayOutcome>;
  hangup(): Promise<void>;
  onEnded(listener: () => void): () => void;
  /** A leg was placed for this call (CDR). */
  noteLeg(leg: OutboundLeg): void;
  /** Hold carried across the bridge. */
  readonly hold: HoldSync;
  /** The caller's media is now bridged to an answered leg (record_on_bridge). */
  bridged?(): void;
}

export interface BridgerDeps {
  config: HooklineConfig;
  clock: Clock;
  log: Logger;
  legDeps: LegDeps;
  registrar: Registrar | undefined;
  /** Our SIP host for From headers. */
  localHost: string;
  /** Gateway host names → addresses (SRV, A/AAAA), RFC 3263. */
  resolver?: SipResolver;
}

/** Default ring time for `resources` without a timeout, seconds. */
export const DEFAULT_RESOURCES_TIMEOUT_S = 60;

interface Ringing { target: LegTarget; delayMs: number }

type RingResult =
  | { kind: 'answered'; leg: OutboundLeg }
  | { kind: 'failed'; status: number }
  | { kind: 'timeout' }
  | { kind: 'gone' };

const RINGBACK: Prompt = { kind: 'tone', frequencies: [440, 480], ms: 2000 };
const RINGBACK_GAP: Prompt = { kind: 'silence', ms: 4000 };

/** Which of several failures to report for a group: busy beats the rest, then the first non-cancel one. */
function pickStatus(statuses: number[]): number {
  if (statuses.includes(486)) return 486;
  if (statuses.includes(600)) return 600;
  return statuses.find((s) => s !== 487) ?? statuses[0] ?? 480;
}

function failed(status: number): BridgeOutcome {
  return { kind: 'failed', cause: causeForStatus(status), code: status };
}

const NO_ANSWER: BridgeOutcome = { kind: 'failed', cause: 'NO_ANSWER', code: 480 };
const CALLER_GONE: BridgeOutcome = { kind: 'failed', cause: 'ORIGINATOR_CANCEL', code: 487 };

/** One bridging attempt for one call. */
export class Bridger {
  private ringback: AbortController | undefined;
  private earlyLeg: OutboundLeg | undefined;

  constructor(private readonly deps: BridgerDeps, private readonly call: BridgeHost) {}

  // ------------------------------------------------------------------ resources

  async resources(req: ResourcesRequest, signal?: AbortSignal): Promise<BridgeOutcome> {
    const number = req.normalize ? toE164(req.toDid) : req.toDid.trim();
    const account = req.huntAccountId ?? this.call.info.accountId;
    const carriers = this.deps.config.carriers
      .filter((c) => (req.useLocalResources ? c.account === account : c.account === undefined))
      .filter((c) => req.outboundFlags.every((f) => c.flags.includes(f)))
      .filter((c) => c.rules.length === 0 || c.rules.some((r) => safeTest(r, number)))
      .sort((a, b) => a.priority - b.priority);
    if (carriers.length === 0 || number.length === 0) {
      this.deps.log.warn({ number, useLocalResources: req.useLocalResources, account }, 'no carrier for the number');
      return { kind: 'no_endpoints', why: 'no carrier' };
    }
    const timeoutMs = (req.timeoutSeconds ?? DEFAULT_RESOURCES_TIMEOUT_S) * 1000;
    let last = 503;
    for (const carrier of carriers) {
      for (const gw of carrier.gateways) {
        if (this.call.ended || signal?.aborted) return CALLER_GONE;
        // A host name: its SRV targets (no port given) or addresses, each tried like a gateway of its own.
        const addrs = await locate(this.deps.resolver, gw.host, gw.srv ? undefined : gw.port, gw.transport);
        if (addrs.length === 0) {
          this.deps.log.warn({ carrier: carrier.id, host: gw.host }, 'gateway host not found in DNS: trying the next');
          last = 503;
          continue;
        }
        for (const dest of addrs.slice(0, 8)) {
          if (this.call.ended || signal?.aborted) return CALLER_GONE;
          const target = this.gatewayTarget(carrier, gw, number, req, dest);
          const r = await this.ringGroup([{ target, delayMs: 0 }], timeoutMs, req.ignoreEarlyMedia, signal);
          if (r.kind === 'answered') return this.converse(r.leg, req.keepCaller === true);
          if (r.kind === 'gone') return CALLER_GONE;
          if (r.kind === 'timeout') return NO_ANSWER;
          last = r.status;
          if (!isGatewayFailure(r.status)) return failed(r.status);
          this.deps.log.info({ carrier: carrier.id, gateway: target.label, status: r.status }, 'gateway failed: trying the next');
        }
      }
    }
    return failed(last);
  }

  private gatewayTarget(carrier: CarrierConfig, gw: CarrierConfig['gateways'][number], number: string, req: ResourcesRequest, dest: SipTarget): LegTarget {
    const user = gw.prefix + formatForCarrier(number, carrier.format) + gw.suffix;
    const params: Record<string, string | null> = {};
    if (gw.transport === 'tcp') params.transport = 'tcp';
    // The Request-URI keeps the configured host (a domain found by SRV stays the domain, RFC 3263).
    const uri: SipUri = { scheme: 'sip', user, host: gw.host, ...(gw.srv ? {} : { port: gw.port }), params, headers: {} };
    const to: NameAddr = { uri: { scheme: 'sip', user, host: gw.host, params: {}, headers: {} }, params: '' };
    const cid = carrier.callerIdFormat === 'e164' && req.callerId.number ? { ...req.callerId, number: toE164(req.callerId.number) } : req.callerId;
    const realm = req.fromUriRealm ?? (req.formatFromUri ? this.deps.config.accounts.find((a) => a.id === this.call.info.accountId)?.realm : undefined);
    const headers = this.headersFor(cid, req.customSipHeaders, realm);
    if (req.emitAccountId) headers.push(['X-Account-ID', this.call.info.accountId]);
    const target: LegTarget = {
      label: `${carrier.id} ${gw.host}${dest.address !== gw.host ? ` (${dest.address}:${dest.port})` : `:${dest.port}`}`,
      uri,
      dest: { transport: dest.transport, address: dest.address, port: dest.port },
      to,
      from: this.fromFor(cid, realm),
      headers,
      ...(gw.replyTimeout > 0 ? { replyTimeoutMs: gw.replyTimeout * 1000 } : {}),
    };
    if (gw.username !== undefined && gw.password !== undefined) {
      target.credentials = { username: gw.username, password: gw.password, ...(gw.realm !== undefined ? { realm: gw.realm } : {}) };
    }
    return target;
  }

  /** From for an outbound leg: the caller ID at our host (or `realm`: format_from_uri / from_uri_realm). */
  private fromFor(cid: BridgeCallerId, realm?: string): NameAddr {
    const user = cid.number && /^[A-Za-z0-9+*#._-]{1,64}$/.test(cid.number) ? cid.number : 'anonymous';
    const host = realm && /^[A-Za-z0-9.-]{1,253}$/.test(realm) ? realm : this.deps.localHost;
    const na: NameAddr = { uri: { scheme: 'sip', user, host, params: {}, headers: {} }, params: '' };
    if (cid.name) na.displayName = cid.name.replace(/["\\\r\n]/g, '').slice(0, 64);
    return na;
  }

  private headersFor(cid: BridgeCallerId, custom: Readonly<Record<string, string>>, realm?: string): Array<[string, string]> {
    const h: Array<[string, string]> = [];
    if (cid.number && /^[A-Za-z0-9+*#._-]{1,64}$/.test(cid.number)) {
      const name = cid.name ? `"${cid.name.replace(/["\\\r\n]/g, '').slice(0, 64)}" ` : '';
      const host = realm && /^[A-Za-z0-9.-]{1,253}$/.test(realm) ? realm : this.deps.localHost;
      h.push(['P-Asserted-Identity', `${name}<sip:${cid.number}@${host}>`]);
    }
    for (const [k, v] of Object.entries(custom)) h.push([k, v]);
    return h;
  }

  // ------------------------------------------------------------------ devices, users, ring groups

  async endpoints(req: EndpointsRequest, signal?: AbortSignal): Promise<BridgeOutcome> {
    const cfg = this.deps.config;
    // Each endpoint → its devices → their live contacts.
    const groups: Array<{ ringing: Ringing[]; timeoutMs: number }> = [];
    // A stored ring group expands to its members (its own delays and timeouts).
    const eps: Array<{ type: 'device' | 'user'; id: string; delaySeconds: number; timeoutSeconds: number }> = [];
    for (const ep of req.endpoints) {
      if (ep.type !== 'group') { eps.push({ ...ep, type: ep.type }); continue; }
      const g = cfg.ringGroups.find((x) => x.id === ep.id);
      for (const m of g?.endpoints ?? []) eps.push({ type: m.type, id: m.id, delaySeconds: m.delay, timeoutSeconds: m.timeout });
    }
    // The caller's own device and its owner's devices are not rung unless can_call_self. A call whose From is a
    // device's username has proved it is that device (the switch challenges it).
    const self = req.canCallSelf ? undefined : this.deps.registrar?.device(this.call.info.from);
    const isSelf = (d: DeviceConfig): boolean => self !== undefined && (d.id === self.id || (self.owner !== undefined && d.owner === self.owner));
    for (const ep of eps.slice(0, 64)) {
      const devices: DeviceConfig[] = (ep.type === 'device'
        ? cfg.devices.filter((d) => d.id === ep.id)
        : cfg.devices.filter((d) => d.owner === ep.id)).filter((d) => !isSelf(d));
      const ringing: Ringing[] = [];
      for (const d of devices) {
        for (const t of this.deviceTargets(d, req)) ringing.push({ target: t, delayMs: ep.delaySeconds * 1000 });
      }
      if (ringing.length > 0) groups.push({ ringing, timeoutMs: ep.timeoutSeconds * 1000 });
    }
    if (groups.length === 0) {
      this.deps.log.info({ endpoints: req.endpoints.map((e) => `${e.type}:${e.id}`) }, 'no registered endpoint to ring');
      return { kind: 'no_endpoints', why: 'no registered endpoint' };
    }
    // `group` by id: the stored group's own strategy and ring time where the module gave none.
    const stored = req.endpoints.length === 1 && req.endpoints[0]!.type === 'group' ? cfg.ringGroups.find((x) => x.id === req.endpoints[0]!.id) : undefined;
    const strategy = stored && req.defaultsFromGroup?.strategy ? stored.strategy : req.strategy;
    const timeoutSeconds = stored && req.defaultsFromGroup?.timeout ? stored.timeout : req.timeoutSeconds;
    let last: BridgeOutcome = NO_ANSWER;
    for (let round = 0; round < req.repeats; round++) {
      const batches = strategy === 'single'
        ? groups.map((g) => ({ ringing: g.ringing.map((r) => ({ ...r, delayMs: 0 })), timeoutMs: g.timeoutMs }))
        : [{ ringing: groups.flatMap((g) => g.ringing), timeoutMs: timeoutSeconds * 1000 }];
      for (const b of batches) {
        if (this.call.ended || signal?.aborted) return CALLER_GONE;
        const r = await this.ringGroup(b.ringing, b.timeoutMs, req.ignoreEarlyMedia, signal);
        if (r.kind === 'answered') return this.converse(r.leg);
        if (r.kind === 'gone') return CALLER_GONE;
        last = r.kind === 'timeout' ? NO_ANSWER : failed(r.status);
      }
    }
    return last;
  }

  private deviceTargets(d: DeviceConfig, req: EndpointsRequest): LegTarget[] {
    const reg = this.deps.registrar;
    if (!reg) return [];
    const realm = d.realm ?? this.deps.config.registrar.realm;
    return reg.contacts(d.username).map((b) => ({
      label: `device ${d.id}`,
      uri: req.staticInvite && /^[A-Za-z0-9+*#._-]{1,64}$/.test(req.staticInvite) ? { ...b.uri, user: req.staticInvite } : b.uri,
      dest: b.source,
      to: { uri: { scheme: 'sip', user: d.username, host: realm, params: {}, headers: {} }, params: '' },
      from: this.fromFor(req.callerId),
      headers: this.headersFor(req.callerId, req.customSipHeaders),
    }));
  }

  // ------------------------------------------------------------------ ringing and talking

  /**
   * Ring `ringing` (each after its delay) until one answers (the others are cancelled), all fail, the ring
   * time runs out (all cancelled) or the caller goes away (all cancelled).
   */
  private ringGroup(ringing: Ringing[], timeoutMs: number, ignoreEarlyMedia: boolean, signal?: AbortSignal): Promise<RingResult> {
    const { clock } = this.deps;
    const legs: OutboundLeg[] = [];
    const statuses: number[] = [];
    const timers = new Set<TimerHandle>();
    let pendingStarts = ringing.length;
    let settled = false;
    return new Promise<RingResult>((resolve) => {
      const finish = (r: RingResult): void => {
        if (settled) return;
        settled = true;
        for (const h of timers) clock.clearTimeout(h);
        timers.clear();
        offEnded();
        signal?.removeEventListener('abort', onAbort);
        for (const l of legs) if (r.kind !== 'answered' || l !== r.leg) l.cancel();
        if (r.kind !== 'answered') this.stopEarly();
        resolve(r);
      };
      const checkAllFailed = (): void => {
        if (pendingStarts === 0 && legs.every((l) => !l.live)) finish({ kind: 'failed', status: pickStatus(statuses) });
      };
      const onAbort = (): void => finish({ kind: 'gone' });
      const offEnded = this.call.onEnded(onAbort);
      signal?.addEventListener('abort', onAbort, { once: true });
      const place = (r: Ringing): void => {
        pendingStarts--;
        if (settled) return;
        const leg = new OutboundLeg(this.deps.legDeps, r.target);
        legs.push(leg);
        this.call.noteLeg(leg);
        leg.onProgress = (l, status) => { if (!settled) this.progress(l, status, ignoreEarlyMedia); };
        leg.onAnswer = (l) => { if (!settled) finish({ kind: 'answered', leg: l }); else l.cancel(); };
        leg.onFail = (_l, status) => {
          statuses.push(status);
          if (!settled) checkAllFailed();
        };
        leg.start(this.call.mediaSession).catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'leg start failed'));
      };
      for (const r of ringing) {
        if (r.delayMs > 0) {
          const h = clock.setTimeout(() => { timers.delete(h); place(r); }, r.delayMs);
          timers.add(h);
        } else place(r);
      }
      const th = clock.setTimeout(() => { timers.delete(th); finish({ kind: 'timeout' }); }, timeoutMs);
      timers.add(th);
      if (this.call.ended) onAbort();
    });
  }

  /** A provisional response on a ringing leg: early media or ringback for the caller. */
  private progress(leg: OutboundLeg, status: number, ignoreEarlyMedia: boolean): void {
    const a = this.call.mediaSession;
    if (leg.early && !ignoreEarlyMedia && a && leg.media && !this.earlyLeg && this.call.earlyMediaPossible !== false) {
      // Relay the far end's early media: 183 to the caller (if not answered) and bridge now.
      this.stopRingback();
      this.earlyLeg = leg;
      void this.call.play({ kind: 'silence', ms: 1 }, { earlyMedia: true }).then(() => {
        if (this.earlyLeg === leg && leg.media && !leg.media.closed && !a.closed) {
          a.stopPlayback();
          try { a.bridge(leg.media); } catch (err) { this.deps.log.warn({ err: String(err) }, 'early media bridge failed'); }
        }
      }, (err: unknown) => this.deps.log.warn({ err: String(err) }, 'early media failed'));
      return;
    }
    if ((status === 180 || status === 183) && !this.earlyLeg) this.startRingback();
  }

  private startRingback(): void {
    if (this.ringback || this.call.ended) return;
    const ac = new AbortController();
    this.ringback = ac;
    // A caller still ringing gets 180 and its phone rings by itself; one already hearing early media (or
    // answered) hears our ringback tone in-band instead of silence.
    if (!this.call.answered && this.call.ring()) return;
    void (async () => {
      while (!ac.signal.aborted && !this.call.ended) {
        const o = await this.call.play(RINGBACK, { signal: ac.signal, earlyMedia: true });
        if (o !== 'finished') break;
        const g = await this.call.play(RINGBACK_GAP, { signal: ac.signal, earlyMedia: true });
        if (g !== 'finished') break;
      }
    })();
  }

  private stopRingback(): void {
    this.ringback?.abort(ABORTED);
    this.ringback = undefined;
  }

  private stopEarly(): void {
    this.stopRingback();
    if (this.earlyLeg) {
      this.earlyLeg = undefined;
      this.call.mediaSession?.unbridge();
    }
  }

  /** The leg answered: answer the caller, bridge media, and wait for either side to hang up. */
  // ------------------------------------------------------------------ a SIP URI (TwiML <Dial><Sip>)

  async uri(req: UriRequest, signal?: AbortSignal): Promise<BridgeOutcome> {
    const u = parseUri(req.uri.trim());
    if (!u || (u.scheme !== 'sip' && u.scheme !== 'sips') || !u.host) return { kind: 'no_endpoints', why: `not a SIP URI: ${req.uri.slice(0, 80)}` };
    const host = u.host.replace(/^\[|\]$/g, '');
    const transport = String(u.params.transport ?? 'udp').toLowerCase() === 'tcp' ? 'tcp' : 'udp';
    // The same location rules as gateways (RFC 3263: an IP as given, a name by SRV without a port, else A/AAAA).
    const found = await locate(this.deps.resolver, host, u.port, transport);
    const dest = found[0];
    if (!dest) {
      this.deps.log.info({ host }, '<Dial><Sip>: host not found in DNS');
      return failed(404);
    }
    const uri: SipUri = { scheme: 'sip', ...(u.user !== undefined ? { user: u.user } : {}), host, ...(u.port !== undefined ? { port: u.port } : {}), params: transport === 'tcp' ? { transport: 'tcp' } : {}, headers: {} };
    const target: LegTarget = {
      label: `sip ${host}${u.port !== undefined ? `:${u.port}` : ''}`,
      uri,
      dest: { transport: dest.transport, address: dest.address, port: dest.port },
      to: { uri: { ...uri, params: {}, headers: {} }, params: '' },
      from: this.fromFor(req.callerId),
      headers: this.headersFor(req.callerId, req.customSipHeaders),
      ...(req.credentials ? { credentials: { username: req.credentials.username, password: req.credentials.password } } : {}),
      replyTimeoutMs: 5000,
    };
    const r = await this.ringGroup([{ target, delayMs: 0 }], req.timeoutSeconds * 1000, false, signal);
    if (r.kind === 'answered') return this.converse(r.leg, req.keepCaller === true);
    if (r.kind === 'gone') return CALLER_GONE;
    if (r.kind === 'timeout') return NO_ANSWER;
    return failed(r.status);
  }

  /**
   * The leg answered: answer the caller, bridge media, and wait for either side to hang up. With `keepCaller`
   * (TwiML <Dial>) the far end hanging up first leaves the caller on the line, unbridged, for the next verbs.
   */
  private async converse(leg: OutboundLeg, keepCaller = false): Promise<BridgeOutcome> {
    this.stopRingback();
    const a = this.call.mediaSession;
    if (this.earlyLeg && this.earlyLeg !== leg) { a?.unbridge(); }
    this.earlyLeg = undefined;
    try {
      await this.call.answer();
    } catch {
      await leg.hangup();
      return CALLER_GONE;
    }
    if (this.call.ended || !a || a.closed || !leg.media || leg.media.closed) {
      await leg.hangup();
      if (!this.call.ended) await this.call.hangup();
      return { kind: 'bridged' };
    }
    a.stopPlayback();
    try {
      a.bridge(leg.media);
    } catch (err) {
      this.deps.log.error({ err: String(err) }, 'bridging media failed');
      await leg.hangup();
      return failed(500);
    }
    this.deps.log.info({ leg: leg.callId, codecA: a.config?.codec, codecB: leg.codec }, 'bridged');
    // Hold on either side is offered to the other (a caller already holding when the leg answers is carried too).
    this.call.hold.onPeerDirection = (d) => leg.hold.offer(d);
    leg.hold.onPeerDirection = (d) => this.call.hold.offer(d);
    if (this.call.hold.peerDirection !== 'sendrecv') leg.hold.offer(this.call.hold.peerDirection);
    this.call.bridged?.();
    const startedAt = this.deps.clock.now();
    let calleeHungUp = false;
    await new Promise<void>((resolve) => {
      let done = false;
      const off = this.call.onEnded(() => {
        if (done) return;
        done = true;
        leg.onRemoteEnd = undefined;
        void leg.hangup();
        resolve();
      });
      leg.onRemoteEnd = () => {
        if (done) return;
        done = true;
        off();
        if (keepCaller && !this.call.ended) {
          calleeHungUp = true;
          a.unbridge();
        } else {
          void this.call.hangup();
        }
        resolve();
      };
      if (!leg.live) leg.onRemoteEnd(leg);
    });
    this.call.hold.onPeerDirection = undefined;
    leg.hold.onPeerDirection = undefined;
    return { kind: 'bridged', seconds: Math.round((this.deps.clock.now() - startedAt) / 1000), ...(calleeHungUp ? { calleeHungUp } : {}) };
  }
}

function safeTest(re: string, s: string): boolean {
  try { return new RegExp(re).test(s); } catch { return false; }
}

export type { Source };
