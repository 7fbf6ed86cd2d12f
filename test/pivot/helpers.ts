/** Test helpers for src/pivot: a fake CallControl on a FakeClock, a real HTTP server on 127.0.0.1, a driver. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  CallControl, CallInfo, ConferenceOutcome, ConferenceRequest, ConferencingCallControl, DtmfDigit, PlayOutcome, Prompt,
} from '../../src/pivot/call-control.js';
import type { Clock, FakeClock, TimerHandle } from '../../src/util/clock.js';

export const DEFAULT_INFO: CallInfo = {
  callId: 'call-1@test',
  accountId: 'acct42',
  direction: 'inbound',
  callerIdName: 'John Smith',
  callerIdNumber: '+15551234567',
  from: '15551234567',
  fromRealm: 'caller.test',
  to: '2000',
  toRealm: 'pbx.test',
  request: '2000',
  requestRealm: 'pbx.test',
};

export interface PlayedPrompt { prompt: Prompt; at: number; earlyMedia: boolean; outcome?: PlayOutcome; endedAt?: number }

export interface FakeCallOptions {
  info?: Partial<CallInfo>;
  /** Virtual duration of a prompt (default: tts 2000 ms, silence/tone their `ms`). */
  promptMs?: (p: Prompt) => number;
}

export class FakeCall implements CallControl, ConferencingCallControl {
  readonly info: CallInfo;
  ended = false;
  answered = false;
  answeredAt: number | undefined;
  endedAt: number | undefined;
  readonly played: PlayedPrompt[] = [];
  readonly hangups: Array<{ code?: number; reason?: string } | undefined> = [];
  readonly sentDtmf: Array<{ digits: string; durationMs: number }> = [];
  private readonly digitListeners = new Set<(d: DtmfDigit) => void>();
  private readonly endedListeners = new Set<() => void>();
  private readonly timers = new Set<TimerHandle>();
  private readonly promptMs: (p: Prompt) => number;
  /** Called when a prompt starts playing. */
  onPlay: ((p: PlayedPrompt) => void) | undefined;

  constructor(readonly clock: Clock, opts: FakeCallOptions = {}) {
    this.info = { ...DEFAULT_INFO, ...opts.info };
    this.promptMs = opts.promptMs ?? ((p) => (p.kind === 'tts' ? 2000 : p.kind === 'audio' ? p.pcm.length / 8 : p.ms));
  }

  /** Texts of the tts prompts played so far. */
  get spoken(): string[] {
    return this.played.flatMap((p) => (p.prompt.kind === 'tts' ? [p.prompt.text] : []));
  }

  answer(): Promise<void> {
    if (this.ended) return Promise.reject(new Error('ended'));
    if (!this.answered) { this.answered = true; this.answeredAt = this.clock.now(); }
    return Promise.resolve();
  }

  play(prompt: Prompt, options: { signal?: AbortSignal; earlyMedia?: boolean } = {}): Promise<PlayOutcome> {
    if (this.ended) return Promise.resolve('hangup');
    if (!options.earlyMedia) void this.answer();
    const rec: PlayedPrompt = { prompt, at: this.clock.now(), earlyMedia: options.earlyMedia === true };
    this.played.push(rec);
    this.onPlay?.(rec);
    return new Promise<PlayOutcome>((resolve) => {
      const signal = options.signal;
      const done = (o: PlayOutcome): void => {
        this.clock.clearTimeout(h);
        this.timers.delete(h);
        signal?.removeEventListener('abort', onAbort);
        this.endedListeners.delete(onEnd);
        rec.outcome = o;
        rec.endedAt = this.clock.now();
        resolve(o);
      };
      const onAbort = (): void => { done('stopped'); };
      const onEnd = (): void => { done('hangup'); };
      const h = this.clock.setTimeout(() => { done('finished'); }, this.promptMs(prompt));
      this.timers.add(h);
      if (signal?.aborted) { done('stopped'); return; }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.endedListeners.add(onEnd);
    });
  }

  sendDtmf(digits: string, durationMs: number): Promise<void> {
    this.sentDtmf.push({ digits, durationMs });
    return Promise.resolve();
  }

  hangup(options?: { code?: number; reason?: string }): Promise<void> {
    if (!this.ended) { this.hangups.push(options); this.end(); }
    return Promise.resolve();
  }

  /** Conference joins, in order; `conferenceOutcome` answers instead of waiting for the call to end (e.g. 'full'). */
  readonly conferences: ConferenceRequest[] = [];
  conferenceOutcome: ConferenceOutcome | undefined;

  joinConference(req: ConferenceRequest, options: { signal?: AbortSignal } = {}): Promise<ConferenceOutcome> {
    if (this.ended) return Promise.resolve({ kind: 'left' });
    void this.answer();
    this.conferences.push(req);
    if (this.conferenceOutcome) return Promise.resolve(this.conferenceOutcome);
    return new Promise((resolve) => {
      const done = (): void => { this.endedListeners.delete(done); options.signal?.removeEventListener('abort', done); resolve({ kind: 'left' }); };
      this.endedListeners.add(done);
      options.signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** The caller hangs up. */
  remoteHangup(): void { this.end(); }

  /** The caller presses keys now. */
  press(digits: string): void {
    for (const d of digits) for (const l of [...this.digitListeners]) l(d);
  }

  /** Run `fn` at `ms` of virtual time from now (cancelled if the call ends first). */
  at(ms: number, fn: () => void): void {
    const h = this.clock.setTimeout(() => { this.timers.delete(h); fn(); }, ms);
    this.timers.add(h);
  }

  onDigit(listener: (digit: DtmfDigit) => void): () => void {
    this.digitListeners.add(listener);
    return () => { this.digitListeners.delete(listener); };
  }

  onEnded(listener: () => void): () => void {
    if (this.ended) { listener(); return () => undefined; }
    this.endedListeners.add(listener);
    return () => { this.endedListeners.delete(listener); };
  }

  get listenerCount(): number { return this.digitListeners.size + this.endedListeners.size; }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.endedAt = this.clock.now();
    for (const h of this.timers) this.clock.clearTimeout(h);
    this.timers.clear();
    for (const l of [...this.endedListeners]) l();
    this.endedListeners.clear();
  }
}

// ---------------------------------------------------------------------------------------------

export interface CapturedRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: CapturedRequest, res: ServerResponse) => void | Promise<void>;

export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  readonly requests: CapturedRequest[];
  /** Replace the handler. */
  handle(h: Handler): void;
  close(): Promise<void>;
}

export function reply(res: ServerResponse, body: unknown, opts: { status?: number; type?: string | null } = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = {};
  const type = opts.type === undefined ? 'application/json' : opts.type;
  if (type !== null) headers['content-type'] = type;
  res.writeHead(opts.status ?? 200, headers);
  res.end(text);
}

export async function startServer(handler: Handler): Promise<TestServer> {
  let h = handler;
  const requests: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const cap: CapturedRequest = {
        method: req.method ?? '', url: req.url ?? '', path: u.pathname, query: u.searchParams,
        headers: req.headers, body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(cap);
      Promise.resolve(h(cap, res)).catch(() => { res.destroy(); });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    handle(nh: Handler) { h = nh; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A port on 127.0.0.1 with nothing listening. */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export const realDelay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const macrotask = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Drive `p` to completion: advance the FakeClock in `step` ms slices, but only while no webhook
 * request is in flight (then wait for real I/O instead), so HTTP timeouts never fire in virtual time.
 */
export async function drive<T>(clock: FakeClock, inFlight: () => number, p: Promise<T>, opts: { step?: number; maxVirtualMs?: number; maxRealMs?: number } = {}): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  let failed = false;
  p.then((v) => { done = true; value = v; }, (e: unknown) => { done = true; failed = true; error = e; });
  const step = opts.step ?? 50;
  const start = clock.now();
  const realStart = Date.now();
  await macrotask();
  while (!done) {
    if (clock.now() - start > (opts.maxVirtualMs ?? 3_600_000)) throw new Error('drive: virtual time limit');
    if (Date.now() - realStart > (opts.maxRealMs ?? 20_000)) throw new Error('drive: real time limit');
    if (inFlight() > 0) await realDelay(1);
    else { clock.tick(step); await macrotask(); }
  }
  if (failed) throw error;
  return value as T;
}
