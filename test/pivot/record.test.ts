/** record_caller and record_call modules over a fake call that can record (FakeClock), and their validation. */
import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession } from '../../src/pivot/session.js';
import { validateCallflow, type CallflowNode } from '../../src/pivot/callflow.js';
import type {
  CallRecordingRequest, RecordCallerOutcome, RecordCallerRequest, RecordingCallControl, RecordingUploadOutcome,
} from '../../src/pivot/call-control.js';
import { FakeCall, drive } from './helpers.js';
import { UPLOAD_WAIT_MS } from '../../src/pivot/modules/record-caller.js';

class RecordingCall extends FakeCall implements RecordingCallControl {
  readonly callerReqs: RecordCallerRequest[] = [];
  readonly callReqs: CallRecordingRequest[] = [];
  stops = 0;
  recStartedAt = -1;
  recStoppedAt = -1;
  /** Virtual ms until the fake upload settles. */
  uploadMs = 100;
  uploadSettledAt = -1;
  constructor(clock: FakeClock, readonly fc: FakeClock = clock) { super(clock); }
  recordCaller(req: RecordCallerRequest, options: { signal?: AbortSignal } = {}): Promise<RecordCallerOutcome> {
    this.callerReqs.push(req);
    this.recStartedAt = this.fc.now();
    return new Promise((resolve) => {
      let done = false;
      const finish = (reason: RecordCallerOutcome['reason']): void => {
        if (done) return;
        done = true;
        this.recStoppedAt = this.fc.now();
        const upload = new Promise<RecordingUploadOutcome>((r) => this.fc.setTimeout(() => {
          this.uploadSettledAt = this.fc.now();
          r({ kind: 'uploaded', url: req.url, bytes: 10, seconds: 1, attempts: 1 });
        }, this.uploadMs));
        resolve({ reason, seconds: (this.recStoppedAt - this.recStartedAt) / 1000, upload });
      };
      if (options.signal?.aborted) { finish('stopped'); return; }
      options.signal?.addEventListener('abort', () => finish('stopped'), { once: true });
      this.onEnded(() => finish('hangup'));
    });
  }
  startCallRecording(req: CallRecordingRequest): void { this.callReqs.push(req); }
  stopCallRecording(): Promise<void> { this.stops++; return Promise.resolve(); }
}

async function run(flow: CallflowNode, script: (call: RecordingCall) => void = () => undefined): Promise<{ call: RecordingCall; reason: string }> {
  const clock = new FakeClock();
  const call = new RecordingCall(clock);
  script(call);
  const session = new PivotSession(call, { clock, compat: 'lenient' });
  const r = await drive(clock, () => session.requestsInFlight, session.run(flow));
  return { call, reason: r.reason };
}

const say = (text: string): CallflowNode => ({ module: 'tts', data: { text } });

function validData(flow: unknown): Record<string, unknown> {
  const v = validateCallflow(flow, { compat: 'lenient' });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.flow.data;
}

t.test('record_caller: beep, record until #, upload named after the Call-ID and format, then _', async (t) => {
  const flow: CallflowNode = { module: 'record_caller', data: validData({ module: 'record_caller', data: { url: 'http://t.test/rec', format: 'wav', time_limit: 30 } }), children: { _: say('after') } };
  const { call } = await run(flow, (c) => { c.at(5000, () => c.press('5')); c.at(6000, () => c.press('#')); });
  t.ok(call.answered);
  const beep = call.played[0]!.prompt;
  t.match(beep, { kind: 'tone', frequencies: [440] }, 'a 440 Hz beep first');
  t.same(call.callerReqs, [{ url: 'http://t.test/rec/call-1%40test.wav', method: 'PUT', format: 'wav', maxSeconds: 30, silenceSeconds: 0 }]);
  t.equal(call.recStoppedAt - call.recStartedAt < 5100, true, 'stopped by the first key (default terminators: any key)');
  t.ok(call.uploadSettledAt > 0 && call.played[1]!.at >= call.uploadSettledAt, 'the flow went on after the upload settled');
  t.same(call.spoken, ['after']);
});

t.test('record_caller: configured terminators; the flow waits for a slow upload at most UPLOAD_WAIT_MS; mp3 and POST', async (t) => {
  const data = validData({ module: 'record_caller', data: { url: 'https://t.test/r/', method: 'POST', terminators: ['*'], silence_timeout: 4 } });
  const { call } = await run({ module: 'record_caller', data, children: { _: say('after') } }, (c) => {
    c.uploadMs = 60_000;
    c.at(2000, () => c.press('1'));
    c.at(3000, () => c.press('*'));
  });
  const r = call.callerReqs[0]!;
  t.equal(r.url, 'https://t.test/r/call-1%40test.mp3', 'format defaults to mp3');
  t.equal(r.method, 'POST');
  t.equal(r.silenceSeconds, 4);
  t.equal(r.maxSeconds, 3600, 'time_limit default');
  t.ok(call.recStoppedAt - call.recStartedAt >= 2700, 'a non-terminator key does not stop it');
  const waited = call.played[1]!.at - call.recStoppedAt;
  t.ok(waited >= UPLOAD_WAIT_MS - 100 && waited <= UPLOAD_WAIT_MS + 200, `waited ${waited} ms for the upload, then went on`);
});

t.test('record_caller: no url or a non-http url → skipped to _; hang-up while recording ends the flow', async (t) => {
  const a = await run({ module: 'record_caller', data: {}, children: { _: say('skipped') } });
  t.same(a.call.callerReqs, []);
  t.same(a.call.spoken, ['skipped']);
  const b = await run({ module: 'record_caller', data: { url: 'ftp://x/y' }, children: { _: say('skipped') } });
  t.same(b.call.callerReqs, []);
  const c = await run({ module: 'record_caller', data: { url: 'http://t.test/rec' }, children: { _: say('never') } }, (call) => call.at(3000, () => call.remoteHangup()));
  t.equal(c.call.callerReqs.length, 1);
  t.same(c.call.spoken, []);
  t.equal(c.reason, 'caller_hangup');
});

t.test('record_caller on a call layer that cannot record → _', async (t) => {
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock, compat: 'lenient' });
  await drive(clock, () => session.requestsInFlight, session.run({ module: 'record_caller', data: { url: 'http://t.test/rec' }, children: { _: say('plain') } }));
  t.same(call.spoken, ['plain']);
});

t.test('record_call: start (file name, options) continues at once; stop; defaults', async (t) => {
  const start = validData({ module: 'record_call', data: { action: 'start', format: 'wav', url: 'http://t.test/calls', time_limit: 600, record_on_bridge: true, record_min_sec: 3 } });
  const { call } = await run({ module: 'record_call', data: start, children: { _: { module: 'sleep', data: { duration: 2 }, children: { _: { module: 'record_call', data: { action: 'stop' }, children: { _: say('done') } } } } } });
  t.same(call.callReqs, [{ url: 'http://t.test/calls/call_recording_call-1%40test.wav', method: 'PUT', format: 'wav', maxSeconds: 600, startOn: 'bridge', minSeconds: 3 }]);
  t.equal(call.stops, 1);
  t.same(call.spoken, ['done']);
  const d = await run({ module: 'record_call', data: validData({ module: 'record_call', data: { url: 'http://t.test/c', record_on_answer: true, media_name: 'my-file' } }) });
  t.same(d.call.callReqs, [{ url: 'http://t.test/c/my-file.mp3', method: 'PUT', format: 'mp3', maxSeconds: 3600, startOn: 'answer', minSeconds: 0 }]);
  const e = await run({ module: 'record_call', data: { action: 'start' }, children: { _: say('no url') } });
  t.same(e.call.callReqs, [], 'start without url: skipped');
  t.same(e.call.spoken, ['no url']);
});

t.test('validation: bad fields are rejected with their path', async (t) => {
  const bad = (data: Record<string, unknown>, module = 'record_call'): string[] => {
    const v = validateCallflow({ module, data }, { compat: 'strict' });
    return v.ok ? [] : v.errors.map((e) => e.path);
  };
  t.same(bad({ action: 'pause' }), ['/data/action']);
  t.same(bad({ format: 'ogg' }), ['/data/format']);
  t.same(bad({ time_limit: 2 }), ['/data/time_limit']);
  t.same(bad({ time_limit: 10801 }), ['/data/time_limit']);
  t.same(bad({ record_on_answer: 'yes' }), ['/data/record_on_answer']);
  t.same(bad({ record_min_sec: -1 }), ['/data/record_min_sec']);
  t.same(bad({ media_name: '../etc/passwd' }), ['/data/media_name']);
  t.same(bad({ method: 'delete' }, 'record_caller'), ['/data/method']);
  t.same(bad({ terminators: ['x'] }, 'record_caller'), ['/data/terminators/0']);
  t.same(bad({ silence_timeout: -5 }, 'record_caller'), ['/data/silence_timeout']);
  t.same(bad({ url: 'http://t/x', format: 'wav', time_limit: 30 }, 'record_caller'), []);
  t.match(validData({ module: 'record_call', data: { url: 'http://t/x' } }), { action: 'start', method: 'put', time_limit: 3600, record_on_answer: false, record_on_bridge: false });
});

t.test('config: pivot.recordingUrl must be an http(s) URL (the error names the field)', async (t) => {
  const { validateConfig, ConfigError } = await import('../../src/cli/config.js');
  t.equal(validateConfig({ pivot: { recordingUrl: 'https://store.test/rec' } }).pivot.recordingUrl, 'https://store.test/rec');
  t.equal(validateConfig({}).pivot.recordingUrl, undefined);
  for (const bad of ['ftp://x/y', 42, 'http://']) {
    let err: unknown;
    try { validateConfig({ pivot: { recordingUrl: bad } }); } catch (e) { err = e; }
    t.ok(err instanceof ConfigError && /pivot\.recordingUrl/.test(err.message), `${JSON.stringify(bad)} rejected naming pivot.recordingUrl (${String(err)})`);
  }
});
