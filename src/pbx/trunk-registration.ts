/**
 * Outbound registration to carrier gateways (`register: true`): REGISTER with the gateway's credentials
 * (answering 401/407 with digest), refreshed at 80 % of the granted expiry, retried with backoff (30 s, then up
 * to 5 min) after a failure, and removed (Expires: 0) at shutdown. One timer per registering gateway at most.
 *
 * The registrar is located like a gateway for calls (RFC 3263, `sip/resolve.ts`): an IP as given, a host name with a
 * port by A/AAAA, a host name without one by SRV. The Request-URI is the registrar's domain (`sip:carrier.example`,
 * no port when SRV located it; RFC 3261 10.2). A round tries the located targets in order and moves on after a
 * timeout, a transport error or a 5xx (RFC 3263 4.3); the target that granted the registration is kept for the
 * refreshes and the unregistration, and a failure locates afresh at the next try.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { createRequest, paramValue, randomToken, type SipRequest, type SipResponse, type SipStack, type Source } from '../sip/index.js';
import { authorize, pickChallenge } from '../sip/auth.js';
import type { CarrierConfig, GatewayConfig } from '../cli/config.js';
import { locate, type SipResolver, type SipTarget } from '../sip/resolve.js';

/** What registration needs of `SipResolver`. */
export type RegistrarLocator = Pick<SipResolver, 'resolve'>;

const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 300_000;

class GatewayRegistration {
  registered = false;
  private readonly callId = randomToken(12);
  private readonly fromTag = randomToken(6);
  private cseq = 0;
  private timer: TimerHandle | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;
  /** The located targets of this round, the one being tried, and the one that granted the registration. */
  private targets: SipTarget[] = [];
  private targetIdx = 0;
  private granted: Source | undefined;
  private readonly aor: string;
  /** Request-URI, also the digest `uri` (RFC 2617: the same string). */
  private readonly uri: string;

  constructor(private readonly stack: SipStack, private readonly clock: Clock, private readonly log: Logger, readonly label: string,
    private readonly gw: GatewayConfig, private readonly locator: RegistrarLocator | undefined) {
    this.aor = `sip:${gw.username ?? 'hookline'}@${gw.host}`;
    this.uri = `sip:${gw.host}${gw.srv ? '' : `:${gw.port}`}${gw.transport === 'tcp' ? ';transport=tcp' : ''}`;
  }

  start(): void { this.round(this.gw.registerExpires); }

  /** Remove the registration (best effort); resolves on the answer or the transaction timeout. */
  close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const dest = this.granted;
    if (!this.registered || !dest) return Promise.resolve();
    this.registered = false;
    return new Promise<void>((resolve) => { this.send(dest, 0, undefined, 0, resolve); });
  }

  /** A registration or refresh: to the target that granted the last one, else to the first located target. */
  private round(expires: number): void {
    if (this.granted) { this.send(this.granted, expires, undefined, 0); return; }
    const found = locate(this.locator, this.gw.host, this.gw.srv ? undefined : this.gw.port, this.gw.transport);
    if (Array.isArray(found)) this.begin(found, expires);
    else void found.then((targets) => { if (!this.closed) this.begin(targets, expires); });
  }

  private begin(targets: SipTarget[], expires: number): void {
    this.targets = targets;
    this.targetIdx = 0;
    const first = targets[0];
    if (first) { this.send(first, expires, undefined, 0); return; }
    this.log.warn({ gateway: this.label, host: this.gw.host }, 'gateway registrar not found in DNS');
    this.retry();
  }

  private send(dest: Source, expires: number, auth: { header: string; value: string } | undefined, tries: number, done?: () => void): void {
    this.cseq++;
    const headers: Array<[string, string]> = [['Expires', String(expires)]];
    if (auth) headers.push([auth.header, auth.value]);
    const req = createRequest({
      method: 'REGISTER', uri: this.uri, from: this.aor, fromTag: this.fromTag, to: this.aor, callId: this.callId, cseq: this.cseq,
      contact: [this.stack.contact(this.gw.username ?? 'hookline', this.gw.transport)], headers,
    });
    try {
      this.stack.sendRequest(req, dest, (res) => {
        if (res.status < 200) return;
        this.onFinal(dest, req, res, expires, tries, done);
      });
    } catch (err) {
      this.log.warn({ gateway: this.label, err: String(err) }, 'REGISTER could not be sent');
      done?.();
      this.granted = undefined;
      this.retry();
    }
  }

  private onFinal(dest: Source, req: SipRequest, res: SipResponse, expires: number, tries: number, done?: () => void): void {
    if ((res.status === 401 || res.status === 407) && tries < 2 && this.gw.username !== undefined && this.gw.password !== undefined) {
      const proxy = res.status === 407;
      const ch = pickChallenge(res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
      if (ch && (this.gw.realm === undefined || this.gw.realm === ch.realm) && (tries === 0 || ch.stale)) {
        const value = authorize(ch, { username: this.gw.username, password: this.gw.password }, 'REGISTER', this.uri);
        this.send(dest, expires, { header: proxy ? 'Proxy-Authorization' : 'Authorization', value }, tries + 1, done);
        return;
      }
    }
    if (done) { done(); return; }
    if (this.closed) return;
    if (res.status >= 200 && res.status < 300) {
      // Granted expiry: our Contact's expires param, else the Expires header, else what we asked.
      let granted = expires;
      const mine = res.contact.find((c) => c.uri.host === req.contact[0]?.uri.host && c.uri.port === req.contact[0]?.uri.port);
      const pv = mine ? paramValue(mine.params, 'expires') : undefined;
      const hdr = res.get('expires');
      if (pv && /^\d+$/.test(pv)) granted = Number(pv);
      else if (hdr && /^\d+$/.test(hdr.trim())) granted = Number(hdr.trim());
      this.registered = true;
      this.granted = dest;
      this.retryMs = RETRY_MIN_MS;
      this.log.info({ gateway: this.label, target: `${dest.address}:${dest.port}`, expires: granted }, 'registered with the gateway');
      this.schedule(Math.max(5000, granted * 800));
      return;
    }
    this.registered = false;
    this.granted = undefined;
    const next = this.targets[this.targetIdx + 1];
    if ((res.status === 408 || res.status >= 500) && next) {
      // RFC 3263 4.3: no answer, a transport error or a server failure: the next located target, at once.
      this.log.info({ gateway: this.label, target: `${dest.address}:${dest.port}`, status: res.status }, 'gateway registrar failed: trying the next');
      this.targetIdx++;
      this.send(next, expires, undefined, 0);
      return;
    }
    this.log.warn({ gateway: this.label, status: res.status, reason: res.reason }, 'gateway registration failed');
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    this.schedule(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private schedule(ms: number): void {
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => { this.timer = undefined; if (!this.closed) this.round(this.gw.registerExpires); }, ms);
  }
}

export class TrunkRegistrations {
  private readonly regs: GatewayRegistration[] = [];

  constructor(stack: SipStack, clock: Clock, log: Logger, carriers: readonly CarrierConfig[], locator?: RegistrarLocator) {
    for (const c of carriers) {
      for (const gw of c.gateways) {
        if (gw.register) this.regs.push(new GatewayRegistration(stack, clock, log, `${c.id} ${gw.host}${gw.srv ? '' : `:${gw.port}`}`, gw, locator));
      }
    }
  }

  start(): void { for (const r of this.regs) r.start(); }

  /** Gateways we are currently registered with. */
  get registered(): number { return this.regs.filter((r) => r.registered).length; }

  /** Unregister everywhere (bounded by the transactions' own timeouts and `maxMs`). */
  async close(maxMs = 2000): Promise<void> {
    await Promise.race([Promise.all(this.regs.map((r) => r.close())), new Promise((r) => setTimeout(r, maxMs).unref())]);
  }
}
