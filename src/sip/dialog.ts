/**
 * Dialogs (RFC 3261 12): state, request construction within a dialog, and an index by Call-ID + tags.
 *
 * A Dialog holds no timers and sends nothing: the TU builds requests with `createRequest()` and sends them
 * with `stack.sendRequest(req, dialog.peer, cb)` (ACK for a 2xx: `inviteClientTx.sendAck(dialog.createAck())`).
 *
 * Where in-dialog requests go: to `dialog.peer`, the address the dialog was established with (the source
 * of the INVITE on the UAS side, the INVITE's destination on the UAC side), not a DNS resolution of the
 * remote target. That is symmetric signalling, right for phones behind NAT and for trunks reached through
 * a proxy; the Request-URI and Route headers still follow RFC 3261 12.2.1.1.
 *
 * The index (`DialogIndex`, one per stack as `stack.dialogs`) is filled and emptied by the TU: it adds a
 * dialog when it creates one and removes it when the dialog ends; `stack.stats().dialogs` counts them.
 */
import {
  SipRequest, canonicalName, type Header, type NameAddr, type SipResponse, type SipUri, type Source,
} from './message.js';
import type { HeaderInput } from './serializer.js';
import { detachNameAddr, detachUri, formatNameAddr, parseNameAddr } from './uri.js';
import { detach } from '../util/strings.js';
import { isIP } from 'node:net';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface InDialogRequestOptions {
  headers?: HeaderInput;
  body?: Buffer | string;
  contentType?: string;
}

const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

function stripTag(na: NameAddr): NameAddr {
  const c: NameAddr = { uri: na.uri, params: na.params };
  if (na.displayName !== undefined) c.displayName = na.displayName;
  return c;
}

function withTag(na: NameAddr, tag: string | undefined): NameAddr {
  const c = stripTag(na);
  if (tag !== undefined && tag !== '') c.tag = tag;
  return c;
}

/**
 * Where our in-dialog requests go on the UAS side: the INVITE's source. Over TCP that source is the caller's
 * connection (reused while it is open, by `connectionId`) and an ephemeral port nobody listens on once it has closed,
 * so the address and port are those of the next hop instead: the first Record-Route (a proxy), else the Contact
 * (RFC 3261 12.2.1.1), when it is an IP literal. UDP keeps the source (symmetric signalling through NAT).
 */
function uasPeer(peer: Source, routeSet: readonly string[], contact: SipUri | undefined): Source {
  const out: Source = { transport: peer.transport, address: peer.address, port: peer.port, ...(peer.connectionId !== undefined ? { connectionId: peer.connectionId } : {}) };
  if (peer.transport === 'udp') return out;
  const rr = routeSet[0];
  const next = rr !== undefined ? parseNameAddr(rr.split(',')[0]!.trim())?.uri : contact;
  if (!next) return out;
  const host = next.host.startsWith('[') ? next.host.slice(1, -1) : next.host;
  if (isIP(host) === 0) return out;
  out.address = detach(host);
  out.port = next.port ?? 5060;
  return out;
}

function recordRoutes(msg: SipRequest | SipResponse): string[] {
  return msg.getAll('record-route');
}

export class Dialog {
  state: DialogState;
  readonly isUac: boolean;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  readonly localUri: NameAddr;
  readonly remoteUri: NameAddr;
  /** CSeq of our last request (incremented by createRequest, except ACK/CANCEL). */
  localSeq: number;
  /** CSeq of the peer's last request; undefined until one is seen (UAC side). */
  remoteSeq: number | undefined;
  /** CSeq number of our last INVITE (for its ACK). */
  inviteSeq: number;
  remoteTarget: SipUri;
  /** Route set, each entry a name-addr string (`<sip:proxy;lr>`), in the order to put in Route. */
  readonly routeSet: string[];
  /** Our Contact, sent on target-refresh requests. */
  localContact: NameAddr;
  /** Where in-dialog requests are sent (see the file header). */
  peer: Source;

  private constructor(init: {
    state: DialogState; isUac: boolean; callId: string; localTag: string; remoteTag: string; localUri: NameAddr;
    remoteUri: NameAddr; localSeq: number; remoteSeq: number | undefined; remoteTarget: SipUri; routeSet: string[];
    localContact: NameAddr; peer: Source;
  }) {
    this.state = init.state;
    this.isUac = init.isUac;
    // A dialog lives as long as its call: its own copies of the parsed strings (util/strings.ts), so that it does not
    // keep the text of the message it was made from.
    this.callId = detach(init.callId);
    this.localTag = detach(init.localTag);
    this.remoteTag = detach(init.remoteTag);
    this.localUri = detachNameAddr(init.localUri);
    this.remoteUri = detachNameAddr(init.remoteUri);
    this.localSeq = init.localSeq;
    this.inviteSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = detachUri(init.remoteTarget);
    this.routeSet = init.routeSet.map(detach);
    this.localContact = init.localContact;
    this.peer = init.peer;
  }

  /**
   * UAS side (RFC 3261 12.1.1): from the INVITE, our To tag and our Contact. `peer` is where the INVITE came
   * from (`IncomingRequest.source`). The state is 'early' until `confirm()` (call it when sending the 2xx).
   */
  static fromUas(invite: SipRequest, localTag: string, localContact: NameAddr, peer: Source): Dialog {
    const contact = invite.contact[0];
    const routeSet = recordRoutes(invite);
    return new Dialog({
      state: 'early',
      isUac: false,
      callId: invite.callId,
      localTag,
      remoteTag: invite.from.tag ?? '',
      localUri: stripTag(invite.to),
      remoteUri: stripTag(invite.from),
      localSeq: 0,
      remoteSeq: invite.cseq.seq,
      remoteTarget: contact ? contact.uri : invite.from.uri,
      routeSet,
      localContact,
      peer: uasPeer(peer, routeSet, contact ? contact.uri : undefined),
    });
  }

  /**
   * UAC side (RFC 3261 12.1.2): from our INVITE (as sent, with its Contact) and a 1xx-with-tag or 2xx response.
   * `peer` is where the INVITE was sent. State: 'confirmed' for 2xx, 'early' for 1xx.
   */
  static fromUac(invite: SipRequest, response: SipResponse, peer: Source): Dialog {
    const contact = response.contact[0];
    const localContact = invite.contact[0] ?? stripTag(invite.from);
    return new Dialog({
      state: response.status >= 200 ? 'confirmed' : 'early',
      isUac: true,
      callId: invite.callId,
      localTag: invite.from.tag ?? '',
      remoteTag: response.to.tag ?? '',
      localUri: stripTag(invite.from),
      remoteUri: stripTag(response.to),
      localSeq: invite.cseq.seq,
      remoteSeq: undefined,
      remoteTarget: contact ? contact.uri : invite.uri,
      routeSet: recordRoutes(response).reverse(),
      localContact,
      peer: { transport: peer.transport, address: peer.address, port: peer.port },
    });
  }

  /** Index key: Call-ID + local tag + remote tag. */
  get key(): string { return dialogKey(this.callId, this.localTag, this.remoteTag); }

  confirm(): void { if (this.state === 'early') this.state = 'confirmed'; }
  terminate(): void { this.state = 'terminated'; }

  /**
   * A request within the dialog (RFC 3261 12.2.1.1): Request-URI and Route from the route set and remote
   * target (loose and strict routing), From/To with tags, Call-ID, CSeq (new for every method but ACK and
   * CANCEL, which reuse the INVITE's number), Contact on target-refresh methods.
   */
  createRequest(method: string, opts: InDialogRequestOptions = {}): SipRequest {
    let seq: number;
    if (method === 'ACK' || method === 'CANCEL') seq = this.inviteSeq;
    else {
      this.localSeq = this.localSeq + 1;
      seq = this.localSeq;
      if (method === 'INVITE') this.inviteSeq = seq;
    }
    let uri = this.remoteTarget;
    const headers: Header[] = [];
    const routes = this.routeSet;
    if (routes.length > 0) {
      const first = parseNameAddr(routes[0]!);
      const loose = first !== null && 'lr' in first.uri.params;
      if (loose || first === null) {
        for (const r of routes) headers.push({ name: 'Route', lname: 'route', value: r });
      } else {
        // Strict routing: first route becomes the Request-URI, the remote target goes last.
        uri = { ...first.uri, params: { ...first.uri.params }, headers: {} };
        for (let i = 1; i < routes.length; i++) headers.push({ name: 'Route', lname: 'route', value: routes[i]! });
        headers.push({ name: 'Route', lname: 'route', value: formatNameAddr({ uri: this.remoteTarget, params: '' }) });
      }
    }
    if (opts.headers) {
      const entries: Array<[string, string]> = Array.isArray(opts.headers) ? opts.headers : Object.entries(opts.headers);
      for (const [name, value] of entries) headers.push({ name, lname: canonicalName(name), value });
    }
    const req = new SipRequest({
      method,
      uri,
      from: withTag(this.localUri, this.localTag),
      to: withTag(this.remoteUri, this.remoteTag),
      callId: this.callId,
      cseq: { seq, method },
      maxForwards: 70,
      contact: TARGET_REFRESH.has(method) ? [this.localContact] : [],
      headers,
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body,
    });
    if (opts.contentType !== undefined) req.contentType = opts.contentType;
    return req;
  }

  /** ACK for the 2xx of our last INVITE (same CSeq number; body for late offers). */
  createAck(opts: InDialogRequestOptions = {}): SipRequest {
    return this.createRequest('ACK', opts);
  }

  /**
   * Check and account an incoming in-dialog request (RFC 3261 12.2.2): false when its CSeq is lower than the
   * last one seen (the TU answers 500). Refreshes the remote target on target-refresh requests.
   */
  receiveRequest(req: SipRequest): boolean {
    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && req.cseq.seq < this.remoteSeq) return false;
      this.remoteSeq = req.cseq.seq;
    }
    if (TARGET_REFRESH.has(req.method) && req.contact[0]) this.remoteTarget = detachUri(req.contact[0].uri);
    return true;
  }

  /** Refresh from a 2xx to a re-INVITE / UPDATE we sent (target refresh), or confirm an early UAC dialog. */
  receiveResponse(res: SipResponse): void {
    if (res.status >= 200 && res.status < 300) {
      if (this.state === 'early') this.state = 'confirmed';
      if (TARGET_REFRESH.has(res.cseq.method) && res.contact[0]) this.remoteTarget = detachUri(res.contact[0].uri);
    }
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return callId + '\u0000' + localTag + '\u0000' + remoteTag;
}

/** Dialogs by Call-ID + tags, filled by the TU. */
export class DialogIndex {
  private readonly map = new Map<string, Dialog>();
  /** Max dialogs; `add` returns false beyond it. Default 100000. */
  constructor(readonly maxDialogs = 100000) {}

  add(d: Dialog): boolean {
    if (this.map.size >= this.maxDialogs && !this.map.has(d.key)) return false;
    this.map.set(d.key, d);
    return true;
  }
  remove(d: Dialog): void { if (this.map.get(d.key) === d) this.map.delete(d.key); }
  get(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.map.get(dialogKey(callId, localTag, remoteTag));
  }
  /** The dialog of an incoming request: local tag = To tag, remote tag = From tag. */
  findForRequest(req: SipRequest): Dialog | undefined {
    if (req.to.tag === undefined) return undefined;
    return this.get(req.callId, req.to.tag, req.from.tag ?? '');
  }
  /** The dialog of a response to our request: local tag = From tag, remote tag = To tag. */
  findForResponse(res: SipResponse): Dialog | undefined {
    return this.get(res.callId, res.from.tag ?? '', res.to.tag ?? '');
  }
  get size(): number { return this.map.size; }
  values(): IterableIterator<Dialog> { return this.map.values(); }
}
