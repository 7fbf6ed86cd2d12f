/**
 * What parsed strings keep alive, measured on V8's heap: a value kept past its message must not keep the message's
 * text (util/strings.ts). Each case keeps 400 values from 400 messages padded with a 16 KB header, so keeping the
 * text would hold over 6 MB, and not keeping it well under 1 MB. The control cases show the measure sees it.
 */
import t from 'tap';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { detach } from '../../src/util/strings.js';
import { Dialog, parseMessage, type SipRequest } from '../../src/sip/index.js';
import { AbsorbList } from '../../src/sip/absorb.js';
import { TimerQueue } from '../../src/sip/timer-queue.js';
import { FakeClock } from '../../src/util/clock.js';
import { SIPP_INVITE, BARESIP_INVITE } from '../sip/messages.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const N = 400;
const PAD = 'X-Pad: ' + 'p'.repeat(16 * 1024) + '\r\n';

/** A fresh parse of `text` with a 16 KB header added (every message its own header text, as on the wire). */
function parsed(text: string, i: number): SipRequest {
  const withPad = text.replace('Max-Forwards: 70\r\n', `Max-Forwards: 70\r\n${PAD}`).replace('Call-ID: ', `Call-ID: n${i}-`);
  const r = parseMessage(Buffer.from(withPad), { stream: false, maxMessageSize: 65535 });
  if (r.kind !== 'ok') throw new Error(`parse: ${JSON.stringify(r)}`);
  return r.message as SipRequest;
}

/** Heap growth, in bytes, from keeping what `keep` returns for N fresh messages. */
function retained(keep: (m: SipRequest, i: number) => unknown, text = SIPP_INVITE): number {
  gc(); gc();
  const before = getHeapStatistics().used_heap_size;
  const kept: unknown[] = [];
  for (let i = 0; i < N; i++) kept.push(keep(parsed(text, i), i));
  gc(); gc();
  const after = getHeapStatistics().used_heap_size;
  t.equal(kept.length, N);
  return after - before;
}

const KEPT_TEXT = N * 16 * 1024; // 6.5 MB
const MB = 1024 * 1024;

t.test('the measure sees a kept slice keep its message (control)', (t) => {
  const bytes = retained((m) => m.callId);
  t.ok(bytes > KEPT_TEXT * 0.9, `a sliced Call-ID kept ${(bytes / MB).toFixed(1)} MB`);
  t.end();
});

t.test('detach: the same characters, without the message', (t) => {
  const s = parsed(SIPP_INVITE, 7).callId;
  t.equal(detach(s), s);
  t.equal(detach('short'), 'short');
  t.equal(detach(''), '');
  t.equal(detach('Bob Ü ☕ a longer string'), 'Bob Ü ☕ a longer string');
  const bytes = retained((m) => detach(m.callId));
  t.ok(bytes < MB, `detached Call-IDs kept ${(bytes / 1024).toFixed(0)} KB`);
  t.end();
});

t.test('a dialog does not keep its INVITE', (t) => {
  const contact = { uri: { scheme: 'sip', user: 'hook', host: '127.0.0.1', port: 5060, params: {}, headers: {} }, params: '' };
  const peer = { transport: 'udp' as const, address: '127.0.0.1', port: 5061 };
  for (const [name, text] of [['SIPp', SIPP_INVITE], ['baresip', BARESIP_INVITE]] as const) {
    const bytes = retained((m) => Dialog.fromUas(m, 'ourtag', contact, peer), text);
    t.ok(bytes < 2 * MB, `${name}: ${N} dialogs kept ${(bytes / 1024).toFixed(0)} KB`);
  }
  t.end();
});

t.test('an absorbed transaction key does not keep its request', (t) => {
  const clock = new FakeClock();
  const list = new AbsorbList(new TimerQueue(clock, () => {}), 32_000, 10_000);
  const key = (m: SipRequest): string => m.via[0]!.branch! + '\u0000' + m.via[0]!.host + ':' + m.via[0]!.port + '\u0000' + m.callId;
  const control = retained((m) => key(m));
  t.ok(control > KEPT_TEXT * 0.9, `a key built of slices kept ${(control / MB).toFixed(1)} MB (control)`);
  const bytes = retained((m) => { list.add(key(m)); return null; });
  t.equal(list.size, N);
  t.ok(bytes < MB, `${N} absorbed keys kept ${(bytes / 1024).toFixed(0)} KB`);
  t.end();
});
