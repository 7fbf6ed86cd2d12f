/** Two stacks on a lossy in-memory network, on a FakeClock. */
import { FakeClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import {
  Dialog, MemoryNetwork, SipStack, createRequest, type IncomingRequest, type InviteClientTransaction,
  type SipRequest, type SipResponse, type Source, type TimerSettings,
} from '../../src/sip/index.js';

export interface Pair {
  clock: FakeClock;
  net: MemoryNetwork;
  a: SipStack;
  b: SipStack;
  /** b as seen from a */
  toB: Source;
  toA: Source;
}

export async function makePair(o: { dropRate?: number; seed?: number; reliable?: boolean; timers?: Partial<TimerSettings>; tryingDelayMs?: number; stackDefaultTrying?: boolean; bMaxTransactions?: number } = {}): Promise<Pair> {
  const clock = new FakeClock();
  const net = new MemoryNetwork({ clock, dropRate: o.dropRate ?? 0, seed: o.seed ?? 1, latencyMs: 5 });
  const reliable = o.reliable ?? false;
  const common = {
    clock, logger: silentLogger, userAgent: 'Hookline-test', ...(o.timers ? { timers: o.timers } : {}),
    // these unit tests exercise the delayed 100 Trying (the stack's default is 0: at once)
    ...(o.stackDefaultTrying ? {} : { tryingDelayMs: o.tryingDelayMs ?? 100 }),
  };
  const a = await SipStack.create({ ...common, transports: [net.bind('10.0.0.1', 5060, reliable)] });
  const b = await SipStack.create({ ...common, transports: [net.bind('10.0.0.2', 5060, reliable)], ...(o.bMaxTransactions ? { maxTransactions: o.bMaxTransactions } : {}) });
  const transport = reliable ? 'tcp' : 'udp';
  return { clock, net, a, b, toB: { transport, address: '10.0.0.2', port: 5060 }, toA: { transport, address: '10.0.0.1', port: 5060 } };
}

export function invite(p: Pair, user = 'bob'): SipRequest {
  return createRequest({
    method: 'INVITE', uri: `sip:${user}@10.0.0.2`, from: 'sip:alice@10.0.0.1', to: `sip:${user}@10.0.0.2`,
    contact: [p.a.contact('alice')], body: 'v=0\r\n', contentType: 'application/sdp',
  });
}

/** A UAS on `b` that answers INVITE 180 then 200 (after `answerAfter` ms), BYE/OPTIONS 200, records events. */
export function simpleUas(p: Pair, answerAfter = 100): { events: string[]; acks: SipRequest[]; ackTimeouts: number } {
  const st = { events: [] as string[], acks: [] as SipRequest[], ackTimeouts: 0 };
  p.b.onRequest = (req: IncomingRequest) => {
    const m = req.message;
    st.events.push(m.method);
    if (m.method === 'INVITE') {
      const tx = req.serverTransaction;
      if (!tx || !('onAck' in tx)) return;
      const dialog = Dialog.fromUas(m, req.toTag, p.b.contact('bob'), req.source);
      p.b.dialogs.add(dialog);
      tx.onAck = (ack) => { st.acks.push(ack); dialog.confirm(); };
      tx.onAckTimeout = () => { st.ackTimeouts++; p.b.dialogs.remove(dialog); };
      tx.onCancel = () => { p.clock.clearTimeout(answer); req.respond(487); p.b.dialogs.remove(dialog); };
      req.respond(180);
      const answer = p.clock.setTimeout(() => { req.respond(200, 'OK', { contact: [p.b.contact('bob')], body: 'v=0\r\n', contentType: 'application/sdp' }); }, answerAfter);
    } else if (m.method === 'BYE') {
      const d = p.b.dialogs.findForRequest(m);
      if (d) { d.receiveRequest(m); p.b.dialogs.remove(d); req.respond(200); } else req.respond(481);
    } else if (m.method === 'ACK') {
      // stray ACK
    } else {
      req.respond(200);
    }
  };
  return st;
}

export interface CallResult { statuses: number[]; byeStatus: number | null; done: boolean }

/** Place a call a→b, ACK the 2xx, hang up with BYE after `holdMs`. */
export function placeCall(p: Pair, holdMs = 1000, user = 'bob'): CallResult {
  const r: CallResult = { statuses: [], byeStatus: null, done: false };
  const inv = invite(p, user);
  let dialog: Dialog | null = null;
  const tx = p.a.sendRequest(inv, p.toB, (res: SipResponse) => {
    r.statuses.push(res.status);
    if (res.status >= 200 && res.status < 300 && !dialog) {
      dialog = Dialog.fromUac(inv, res, p.toB);
      (tx as InviteClientTransaction).sendAck(dialog.createAck());
      const d = dialog;
      p.clock.setTimeout(() => {
        p.a.sendRequest(d.createRequest('BYE'), d.peer, (bye) => {
          if (bye.status >= 200) { r.byeStatus = bye.status; r.done = true; }
        });
      }, holdMs);
    } else if (res.status >= 300) {
      r.done = true;
    }
  });
  return r;
}
