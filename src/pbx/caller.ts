/**
 * The built-in test caller (`hookline call`): a small UAC on Hookline's own SIP stack and media engine.
 * It dials, sends RFC 4733 digits once answered, records what it hears (early media from a 183 with SDP too), waits for the far end's BYE
 * (or hangs up itself after `maxSeconds`), and reports the outcome.
 */
import { createSocket } from 'node:dgram';
import { SipStack, Dialog, createRequest, parseUri, type SipResponse, type InviteClientTransaction, type TransportName } from '../sip/index.js';
import { MediaEngine, sessionConfigFor, type MediaQuality, type MediaSession } from '../rtp/media-engine.js';
import { createOffer, acceptAnswer, serializeSdp, type AudioCodec } from '../rtp/sdp.js';
import { RealClock } from '../util/clock.js';
import { tone as makeTone } from '../media/tone.js';
import { getLogger } from '../util/logger.js';

export interface PlaceCallOptions {
  uri: string;
  from: string;
  digits?: string;
  /** Wait this long after the answer before sending digits (ms). */
  waitMs?: number;
  /** Gap between digits (ms). Default 250. */
  digitGapMs?: number;
  digitDurationMs?: number;
  /** Hang up ourselves after this long (s). Default 60. */
  maxSeconds?: number;
  transport?: TransportName;
  record?: boolean;
  codecs?: AudioCodec[];
  /** Play this tone towards the far end once answered (tests: an echo comes back). */
  tone?: { frequencies: number[]; ms: number };
  /** CANCEL the INVITE if it is not answered within this many ms. */
  cancelAfterMs?: number;
  /** RTP port range for the caller (kept away from a switch's default range). */
  portMin?: number;
  portMax?: number;
}

export interface CallResult {
  outcome: 'answered' | 'rejected' | 'timeout' | 'error';
  answered: boolean;
  status?: number;
  reason?: string;
  setupMs: number;
  durationMs: number;
  endedBy: 'remote' | 'local' | 'none';
  codec?: AudioCodec;
  audio?: Int16Array;
  heardSeconds: number;
  rms: number;
  digitsSent: string;
  /** Provisional responses seen (180, 183, ...), in order. */
  progress: number[];
  /** The media stream's figures once it closed: RTP counts, loss, jitter, and the far end's RTCP report and RTT. */
  media?: MediaQuality;
}

/** The local address the OS would use to reach `host` (no packet is sent). */
async function localAddressFor(host: string): Promise<string> {
  if (host === 'localhost' || host.startsWith('127.')) return '127.0.0.1';
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve('0.0.0.0'); });
    s.connect(9, host, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

/** RMS and seconds of 20 ms frames above a level: what "heard something" means. */
export function audioActivity(pcm: Int16Array, rate = 8000, threshold = 300): { rms: number; activeSeconds: number } {
  let sum = 0;
  let active = 0;
  const win = rate / 50;
  for (let i = 0; i + win <= pcm.length; i += win) {
    let w = 0;
    for (let j = i; j < i + win; j++) w += pcm[j]! * pcm[j]!;
    sum += w;
    if (Math.sqrt(w / win) > threshold) active++;
  }
  return { rms: pcm.length ? Math.sqrt(sum / pcm.length) : 0, activeSeconds: (active * win) / rate };
}

export async function placeCall(o: PlaceCallOptions): Promise<CallResult> {
  const log = getLogger('caller');
  const target = parseUri(o.uri);
  if (!target || !target.host) throw new Error(`not a SIP URI: ${o.uri}`);
  const transport: TransportName = o.transport ?? 'udp';
  const host = target.host.replace(/^\[|\]$/g, '');
  const port = target.port ?? 5060;
  const local = await localAddressFor(host);
  const clock = new RealClock();
  const stack = await SipStack.create({
    udp: transport === 'udp' ? { address: local, port: 0 } : false,
    tcp: transport === 'tcp' ? { address: local, port: 0 } : false,
    clock,
    userAgent: 'Hookline-caller/0.1',
  });
  const engine = await MediaEngine.start({ workers: 1, address: local, portMin: o.portMin ?? 40000, portMax: o.portMax ?? 49998, rtpTimeoutMs: 0 });
  const t0 = clock.now();
  const result: CallResult = { outcome: 'error', answered: false, setupMs: 0, durationMs: 0, endedBy: 'none', heardSeconds: 0, rms: 0, digitsSent: '', progress: [] };
  let session: MediaSession | undefined;
  try {
    session = await engine.createSession();
    const offer = createOffer({ address: local, port: session.localPort, codecs: o.codecs ?? ['PCMU', 'PCMA'] });
    const invite = createRequest({
      method: 'INVITE',
      uri: target,
      from: { displayName: o.from, uri: { scheme: 'sip', user: o.from, host: local, params: {}, headers: {} }, params: '' },
      to: { uri: { ...target, params: {}, headers: {} }, params: '' },
      contact: [stack.contact(o.from, transport)],
      body: serializeSdp(offer),
      contentType: 'application/sdp',
    });
    const dest = { transport, address: host, port };
    let dialog: Dialog | undefined;
    let remoteBye: (() => void) | undefined;
    const byeSeen = new Promise<void>((resolve) => { remoteBye = resolve; });
    stack.onRequest = (req) => {
      const m = req.message;
      if (m.method === 'ACK') return;
      if (dialog && m.callId === dialog.callId && m.method === 'BYE') {
        req.respond(200, 'OK');
        remoteBye?.();
        return;
      }
      if (dialog && m.callId === dialog.callId) { req.respond(200, 'OK'); return; }
      req.respond(481, 'Call/Transaction Does Not Exist');
    };
    let cancelTimer: NodeJS.Timeout | undefined;
    let early = false;
    const final = await new Promise<SipResponse>((resolve) => {
      const tx = stack.sendRequest(invite, dest, (res) => {
        if (res.status < 200) {
          if (res.status > 100 && result.progress.length < 16) result.progress.push(res.status);
          // Early media (183 with SDP): listen (and record) before the answer.
          if (res.status > 100 && !early && res.body.length > 0 && session) {
            const e = acceptAnswer(offer, res.body.toString('utf8'));
            if (e.ok) {
              early = true;
              session.configure(sessionConfigFor(e.media));
              if (o.record) session.startRecording((o.maxSeconds ?? 60) + 61);
            }
          }
          return;
        }
        if (res.status < 300) {
          if (!dialog) dialog = Dialog.fromUac(invite, res, tx.peer);
          (tx as InviteClientTransaction).sendAck(dialog.createAck());
        }
        resolve(res);
      });
      if (o.cancelAfterMs !== undefined) cancelTimer = setTimeout(() => (tx as InviteClientTransaction).cancel(), o.cancelAfterMs);
    });
    clearTimeout(cancelTimer);
    result.status = final.status;
    result.reason = final.reason;
    result.setupMs = Math.round(clock.now() - t0);
    if (final.status >= 300 || !dialog) {
      result.outcome = final.synthetic ? 'timeout' : 'rejected';
      if (early && o.record) {
        result.audio = await session.stopRecording();
        const a = audioActivity(result.audio);
        result.rms = a.rms;
        result.heardSeconds = a.activeSeconds;
      }
      return result;
    }
    result.outcome = 'answered';
    result.answered = true;
    const neg = acceptAnswer(offer, final.body.toString('utf8'));
    if (!neg.ok) {
      log.error({ reason: neg.reason }, 'unusable SDP answer');
    } else {
      result.codec = neg.media.codec;
      session.configure(sessionConfigFor(neg.media));
    }
    const maxMs = (o.maxSeconds ?? 60) * 1000;
    if (o.record && !early) session.startRecording(maxMs / 1000 + 1);
    let toneRef: ReturnType<MediaEngine['registerPrompt']> | undefined;
    if (o.tone && neg.ok) {
      toneRef = engine.registerPrompt(makeTone(o.tone.frequencies, { durationMs: o.tone.ms }));
      session.play(toneRef);
    }
    const answeredAt = clock.now();
    const sendDigits = async (): Promise<void> => {
      if (!o.digits || !neg.ok || neg.media.telephoneEventPt === undefined) return;
      await new Promise((r) => setTimeout(r, o.waitMs ?? 1500));
      for (const d of o.digits) {
        if (session!.closed) return;
        await session!.sendDtmf(d, o.digitDurationMs ?? 100);
        result.digitsSent += d;
        await new Promise((r) => setTimeout(r, o.digitGapMs ?? 250));
      }
    };
    void sendDigits().catch((err: unknown) => log.error({ err: String(err) }, 'sending digits failed'));
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      byeSeen.then(() => 'remote' as const),
      new Promise<'local'>((r) => { timer = setTimeout(() => r('local'), maxMs); }),
    ]);
    clearTimeout(timer);
    result.endedBy = ended;
    result.durationMs = Math.round(clock.now() - answeredAt);
    if (ended === 'local') {
      const d = dialog;
      await new Promise<void>((resolve) => {
        stack.sendRequest(d.createRequest('BYE'), d.peer, (res) => { if (res.status >= 200) resolve(); });
      });
    }
    if (o.record) {
      result.audio = await session.stopRecording();
      const a = audioActivity(result.audio);
      result.rms = a.rms;
      result.heardSeconds = a.activeSeconds;
    }
    return result;
  } finally {
    await session?.close();
    if (session?.quality) result.media = session.quality;
    await engine.close();
    await stack.close();
  }
}
