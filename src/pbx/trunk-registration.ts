/**
 * Outbound registration to carrier gateways (`register: true`): REGISTER with the gateway's credentials
 * (answering 401/407 with digest), refreshed at 80 % of the granted expiry, retried with backoff (30 s, then up
 * to 5 min) after a failure, and removed (Expires: 0) at shutdown. One timer per registering gateway at most.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { createRequest, paramValue, randomToken, type SipRequest, type SipResponse, type SipStack, type Source } from '../sip/index.js';
import { authorize, pickChallenge } from '../sip/auth.js';
import type { CarrierConfig, GatewayConfig } from '../cli/config.js';

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
  private readonly dest: Source;
  private readonly aor: string;

  constructor(private readonly stack: SipStack, private readonly clock: Clock, private readonly log: Logger, readonly label: string, private readonly gw: GatewayConfig) {
    this.dest = { transport: gw.transport, address: gw.host, port: gw.port };
    this.aor = `sip:${gw.username ?? 'hookline'}@${gw.host}`;
  }

  start(): void { this.send(this.gw.registerExpires, undefined, 0); }

  /** Remove the registration (best effort); resolves on the answer or the transaction timeout. */
  close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.registered) return Promise.resolve();
    this.registered = false;
    return new Promise<void>((resolve) => { this.send(0, undefined, 0, resolve); });
  }

  private send(expires: number, auth: { header: string; value: string } | undefined, tries: number, done?: () => void): void {
    this.cseq++;
    const headers: Array<[string, string]> = [['Expires', String(expires)]];
    if (auth) headers.push([auth.header, auth.value]);
    const uri = `sip:${this.gw.host}:${this.gw.port}${this.gw.transport === 'tcp' ? ';transport=tcp' : ''}`;
    const req = createRequest({
      method: 'REGISTER', uri, from: this.aor, fromTag: this.fromTag, to: this.aor, callId: this.callId, cseq: this.cseq,
      contact: [this.stack.contact(this.gw.username ?? 'hookline', this.gw.transport)], headers,
    });
    try {
      this.stack.sendRequest(req, this.dest, (res) => {
        if (res.status < 200) return;
        this.onFinal(req, res, expires, tries, done);
      });
    } catch (err) {
      this.log.warn({ gateway: this.label, err: String(err) }, 'REGISTER could not be sent');
      done?.();
      this.retry();
    }
  }

  private onFinal(req: SipRequest, res: SipResponse, expires: number, tries: number, done?: () => void): void {
    if ((res.status === 401 || res.status === 407) && tries < 2 && this.gw.username !== undefined && this.gw.password !== undefined) {
      const proxy = res.status === 407;
      const ch = pickChallenge(res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
      if (ch && (this.gw.realm === undefined || this.gw.realm === ch.realm) && (tries === 0 || ch.stale)) {
        const value = authorize(ch, { username: this.gw.username, password: this.gw.password }, 'REGISTER', `sip:${this.gw.host}:${this.gw.port}`);
        this.send(expires, { header: proxy ? 'Proxy-Authorization' : 'Authorization', value }, tries + 1, done);
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
      this.retryMs = RETRY_MIN_MS;
      this.log.info({ gateway: this.label, expires: granted }, 'registered with the gateway');
      this.schedule(Math.max(5000, granted * 800));
      return;
    }
    this.registered = false;
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
    this.timer = this.clock.setTimeout(() => { this.timer = undefined; if (!this.closed) this.send(this.gw.registerExpires, undefined, 0); }, ms);
  }
}

export class TrunkRegistrations {
  private readonly regs: GatewayRegistration[] = [];

  constructor(stack: SipStack, clock: Clock, log: Logger, carriers: readonly CarrierConfig[]) {
    for (const c of carriers) {
      for (const gw of c.gateways) {
        if (gw.register) this.regs.push(new GatewayRegistration(stack, clock, log, `${c.id} ${gw.host}:${gw.port}`, gw));
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
