/**
 * SIP parser benchmark: INVITEs parsed per second (eager headers only, as the hot path does), against a
 * baseline measured in the same run: `buf.toString()` + split on CRLF + split each header on ':' (the
 * least any text parser does), and the ratio. Also bytes allocated per parse (heap delta over many parses,
 * GC disabled when `--expose-gc` is available, otherwise a rough figure) and serializer throughput.
 *
 *   node dist/bench/sip-parse.js      (exports `run()`)
 *
 * Rates are per second of this process's CPU time (the machine is shared and noisy).
 *
 * Keys: parse_per_s, baseline_per_s, parse_vs_baseline (ratio), parse_bytes_per_op, serialize_per_s,
 *       baseline_bytes_per_op, parse_compact_per_s (folded/compact/multi-Via message), invite_bytes.
 */
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseMessage, serialize, type SipMessage } from '../src/sip/index.js';

const SDP = [
  'v=0', 'o=- 3917423521 3917423521 IN IP4 192.168.1.20', 's=baresip', 'c=IN IP4 192.168.1.20', 't=0 0',
  'm=audio 30000 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', '',
].join('\r\n');

const INVITE = Buffer.from([
  'INVITE sip:4999@192.168.1.10:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.1.20:5090;branch=z9hG4bK9c3f6a1e0b7d2a4c;rport',
  'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK77ef4c2312983.1;received=10.0.0.1',
  'Record-Route: <sip:10.0.0.1;lr>',
  'Contact: <sip:bob-0x55d1@192.168.1.20:5090;transport=udp>',
  'Max-Forwards: 70',
  'To: <sip:4999@192.168.1.10:5060>',
  'From: "Bob" <sip:bob@192.168.1.10>;tag=4a5b6c7d8e9f0a1b',
  'Call-ID: 7e1c3f59aa60ce7b',
  'CSeq: 23512 INVITE',
  'Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER',
  'Supported: replaces,norefersub,100rel',
  'User-Agent: baresip v1.0.0 (x86_64/linux)',
  'Content-Type: application/sdp',
  'Content-Length: ' + Buffer.byteLength(SDP),
  '',
  SDP,
].join('\r\n'));

const COMPACT = Buffer.from([
  'BYE sip:alice@192.0.2.4 SIP/2.0',
  'v: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK77ef4c2312983.1, SIP/2.0/TCP client.example.com;branch=z9hG4bKnashds8;received=192.0.2.7',
  'f: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
  't: "Alice"',
  '  <sip:alice@atlanta.example.com>;tag=1928301774',
  'i: a84b4c76e66710',
  'CSeq: 231 BYE',
  'l: 0',
  '', '',
].join('\r\n'));

const OPTS = { stream: false };

function baseline(buf: Buffer): number {
  const lines = buf.toString().split('\r\n');
  let n = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.length === 0) break;
    const c = l.indexOf(':');
    if (c > 0) { n += l.slice(0, c).trim().length + l.slice(c + 1).trim().length; }
  }
  return n;
}

let sink = 0;

/**
 * ops per second of this process's CPU time (user+system), so other load on the machine inflates the
 * figures less than wall time would; run for `ms` of CPU time.
 */
function timeLoop(ms: number, fn: () => void): number {
  const batch = 1000;
  let ops = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return (ops * 1e6) / used;
}

function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** Heap growth per call over `n` calls right after a full GC (median of 7 runs; n small enough to fit the young generation). */
function bytesPerOp(fn: () => void, n: number): number {
  const gc = getGc();
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    if (gc) gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) fn();
    const d = process.memoryUsage().heapUsed - before;
    if (d > 0) samples.push(d / n);
  }
  samples.sort((a, b) => a - b);
  return samples.length ? samples[samples.length >> 1]! : 0;
}

export async function run(): Promise<Record<string, number>> {
  const parseInvite = (): void => {
    const r = parseMessage(INVITE, OPTS);
    if (r.kind === 'ok') sink += r.message.via.length;
  };
  const parseCompact = (): void => {
    const r = parseMessage(COMPACT, OPTS);
    if (r.kind === 'ok') sink += r.message.via.length;
  };
  const base = (): void => { sink += baseline(INVITE); };
  const parsed = parseMessage(INVITE, OPTS);
  if (parsed.kind !== 'ok') throw new Error('bench INVITE does not parse');
  const msg: SipMessage = parsed.message;
  const ser = (): void => { sink += serialize(msg).length; };

  // warm up
  timeLoop(300, parseInvite);
  timeLoop(300, base);
  // interleave rounds to share machine noise; keep the best round of each
  let p = 0;
  let b = 0;
  for (let round = 0; round < 3; round++) {
    p = Math.max(p, timeLoop(400, parseInvite));
    b = Math.max(b, timeLoop(400, base));
  }
  const c = timeLoop(400, parseCompact);
  const s = timeLoop(400, ser);
  const bytes = bytesPerOp(parseInvite, 1000);
  const baseBytes = bytesPerOp(base, 1000);
  const result = {
    parse_per_s: Math.round(p),
    baseline_per_s: Math.round(b),
    parse_vs_baseline: Number((p / b).toFixed(3)),
    parse_compact_per_s: Math.round(c),
    serialize_per_s: Math.round(s),
    parse_bytes_per_op: Math.round(bytes),
    baseline_bytes_per_op: Math.round(baseBytes),
    invite_bytes: INVITE.length,
  };
  if (sink === -1) result.invite_bytes = 0; // keep `sink` observable
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}
