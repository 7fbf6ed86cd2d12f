/**
 * Registrar (RFC 3261 10.3) for the configured devices: REGISTER with digest authentication, several
 * contacts per AOR (bounded, the oldest dropped), expiry bounds (423 with Min-Expires below the minimum, the
 * maximum enforced), `Contact: *` with Expires 0 and per-contact expires=0 unregistration, and NAT-aware
 * bindings: a contact is reached at the address and port its REGISTER came from (RFC 3581 style), not at
 * the private address it wrote in its Contact.
 *
 * Bindings are keyed by SIP username, not by the device objects, so they survive a config reload that keeps
 * the device (`setDevices`). Expired bindings are dropped lazily (on lookup and on the next REGISTER), so the
 * registrar runs no timers.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { detach } from '../util/strings.js';
import { detachUri, paramValue, formatNameAddr, type IncomingRequest, type SipUri, type Source } from '../sip/index.js';
import { challenge, NonceSource, parseCredentials, verifyCredentials } from '../sip/auth.js';
import type { DeviceConfig, RegistrarConfig } from '../cli/config.js';

export interface Binding {
  /** The Contact URI (Request-URI of calls to the device). */
  uri: SipUri;
  /** Where requests to it are sent: the REGISTER's source (transport, address, port). */
  source: Source;
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Header params of the Contact as sent (`;+sip.instance=...`), kept for the 200 OK. */
  params: string;
}

export class Registrar {
  private devices = new Map<string, DeviceConfig>();
  private readonly bindings = new Map<string, Binding[]>();
  private readonly nonces: NonceSource;

  constructor(private cfg: RegistrarConfig, devices: readonly DeviceConfig[], private readonly clock: Clock, private readonly log: Logger) {
    this.setDevices(devices);
    this.nonces = new NonceSource(300_000, undefined, () => Date.now());
  }

  /** Replace the device list (config reload): bindings of devices that remain are kept. */
  setDevices(devices: readonly DeviceConfig[], cfg?: RegistrarConfig): void {
    if (cfg) this.cfg = cfg;
    this.devices = new Map(devices.map((d) => [d.username, d]));
    for (const user of [...this.bindings.keys()]) if (!this.devices.has(user)) this.bindings.delete(user);
  }

  get size(): number { return this.devices.size; }

  /** Live contacts of a device (newest first). */
  contacts(username: string): Binding[] {
    const list = this.bindings.get(username);
    if (!list) return [];
    const now = this.clock.now();
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length !== list.length) {
      if (live.length === 0) this.bindings.delete(username); else this.bindings.set(username, live);
    }
    return live;
  }

  /** Total live bindings (stats). */
  bindingCount(): number {
    let n = 0;
    for (const u of [...this.bindings.keys()]) n += this.contacts(u).length;
    return n;
  }

  /** The device whose credentials a request from `username` must carry. */
  device(username: string): DeviceConfig | undefined { return this.devices.get(username); }

  /**
   * Check a request's digest credentials for a device; responds 401/407 (challenge) or 403 itself and returns
   * undefined when they are missing or wrong. `proxy` selects Proxy-Authenticate / 407 (for INVITEs).
   */
  authenticate(req: IncomingRequest, proxy: boolean): DeviceConfig | undefined {
    const m = req.message;
    const realmOf = (d: DeviceConfig | undefined): string => d?.realm ?? this.cfg.realm;
    const send = (stale: boolean, d: DeviceConfig | undefined): void => {
      const h = challenge({ realm: realmOf(d), nonce: this.nonces.create(), stale });
      req.respond(proxy ? 407 : 401, proxy ? 'Proxy Authentication Required' : 'Unauthorized', { headers: { [proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate']: h } });
    };
    const raw = m.get(proxy ? 'proxy-authorization' : 'authorization');
    const claimed = proxy ? m.from.uri.user : m.to.uri.user;
    if (raw === undefined) { send(false, claimed !== undefined ? this.devices.get(claimed) : undefined); return undefined; }
    const c = parseCredentials(raw);
    const d = c ? this.devices.get(c.username) : undefined;
    if (!c || !d) { req.respond(403, 'Forbidden'); return undefined; }
    if (c.realm !== realmOf(d)) { send(false, d); return undefined; }
    const n = this.nonces.check(c.nonce);
    if (n === 'bad') { send(false, d); return undefined; }
    if (!verifyCredentials(c, m.method, d.password)) { req.respond(403, 'Forbidden'); return undefined; }
    if (n === 'stale') { send(true, d); return undefined; }
    return d;
  }

  /** Handle a REGISTER (already routed here because devices are configured). */
  handleRegister(req: IncomingRequest): void {
    const m = req.message;
    const aorUser = m.to.uri.user;
    if (aorUser === undefined || !this.devices.has(aorUser)) { req.respond(404, 'Not Found'); return; }
    const d = this.authenticate(req, false);
    if (!d) return;
    if (d.username !== aorUser) { req.respond(403, 'Forbidden (credentials of another user)'); return; }
    const now = this.clock.now();
    const expiresHdr = m.get('expires');
    const headerExpires = expiresHdr !== undefined && /^\d+$/.test(expiresHdr.trim()) ? Number(expiresHdr.trim()) : undefined;
    let list = this.contacts(aorUser).slice();

    if (m.contactStar) {
      if (headerExpires !== 0) { req.respond(400, 'Bad Request (Contact * needs Expires: 0)'); return; }
      this.bindings.delete(aorUser);
      this.log.info({ device: d.id }, 'unregistered (all contacts)');
      req.respond(200, 'OK', { headers: { Date: new Date().toUTCString() } });
      return;
    }
    const contacts = m.contact; // unreadable Contacts were already answered 400 by the stack
    for (const c of contacts) {
      const pv = paramValue(c.params, 'expires');
      let exp = pv !== undefined && pv !== null && /^\d+$/.test(pv) ? Number(pv) : headerExpires ?? this.cfg.defaultExpires;
      if (exp !== 0 && exp < this.cfg.minExpires) {
        req.respond(423, 'Interval Too Brief', { headers: { 'Min-Expires': String(this.cfg.minExpires) } });
        return;
      }
      exp = Math.min(exp, this.cfg.maxExpires);
      const key = uriKey(c.uri);
      const i = list.findIndex((b) => uriKey(b.uri) === key);
      const prev = i >= 0 ? list[i] : undefined;
      if (prev && prev.callId === m.callId && m.cseq.seq <= prev.cseq) {
        req.respond(500, 'Server Internal Error (out of order REGISTER)', { headers: { 'Retry-After': '1' } });
        return;
      }
      if (i >= 0) list.splice(i, 1);
      if (exp === 0) continue;
      // A binding lives up to its expiry: its own copies of the parsed strings (util/strings.ts).
      const uri = detachUri(c.uri);
      const source: Source = { transport: req.source.transport, address: req.source.address, port: req.source.port };
      if (req.source.connectionId !== undefined) source.connectionId = req.source.connectionId;
      list.unshift({ uri, source, expiresAt: now + exp * 1000, callId: detach(m.callId), cseq: m.cseq.seq, params: detach(stripExpires(c.params)) });
    }
    if (list.length > this.cfg.maxContacts) list = list.slice(0, this.cfg.maxContacts);
    if (list.length === 0) this.bindings.delete(aorUser); else this.bindings.set(aorUser, list);
    this.log.info({ device: d.id, contacts: list.length, source: `${req.source.address}:${req.source.port}` }, 'registered');
    const headers: Array<[string, string]> = [['Date', new Date().toUTCString()]];
    for (const b of list) {
      const left = Math.max(0, Math.round((b.expiresAt - now) / 1000));
      headers.push(['Contact', `${formatNameAddr({ uri: b.uri, params: '' })}${b.params};expires=${left}`]);
    }
    req.respond(200, 'OK', { headers });
  }
}

function uriKey(u: SipUri): string {
  return `${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? ''};${u.params.transport ?? ''}`;
}

function stripExpires(params: string): string {
  return params.replace(/;\s*expires\s*=\s*[^;]*/gi, '');
}
