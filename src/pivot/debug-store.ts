/**
 * Bounded in-memory store of Pivot debug records (PIVOT.md 2.9), kept for nodes with `debug: true`.
 * Holds the last `maxCalls` calls (oldest call evicted first), at most `maxRecordsPerCall` records per
 * call (oldest dropped), bodies cut to `maxBodyChars`. The HTTP endpoint / CLI reading it is a later issue.
 */
import type { ValidationIssue } from './callflow.js';
import type { WebhookFailureReason } from './errors.js';

export interface JsonErrorInfo {
  readonly message: string;
  /** Up to 40 characters of the body before / after the error position, when known. */
  readonly before?: string;
  readonly after?: string;
}

export interface PivotDebugRecord {
  readonly callId: string;
  readonly accountId: string;
  /** 1 for the first request of the call, then 2, 3, … */
  readonly iteration: number;
  readonly uri: string;
  readonly method: 'GET' | 'POST';
  readonly reqHeaders: Readonly<Record<string, string>>;
  readonly reqBody?: string;
  /** Wall-clock time the request started (ms since epoch). */
  readonly startedAt: number;
  respStatusCode?: number;
  /** Lower-cased header names. */
  respHeaders?: Record<string, string>;
  respBody?: string;
  /** Milliseconds from the start to the response headers / to the end (body read, classified). */
  headersMs?: number;
  totalMs?: number;
  failure?: { reason: WebhookFailureReason; detail: string; hangup: boolean };
  jsonErrors?: JsonErrorInfo;
  schemaErrors?: readonly ValidationIssue[];
}

export interface PivotDebugStoreOptions {
  /** Calls kept (default 100). */
  maxCalls?: number;
  /** Records kept per call (default 50). */
  maxRecordsPerCall?: number;
  /** Characters of each request/response body kept (default 65536). */
  maxBodyChars?: number;
}

export class PivotDebugStore {
  readonly maxCalls: number;
  readonly maxRecordsPerCall: number;
  readonly maxBodyChars: number;
  /** Insertion-ordered: the first key is the oldest call. */
  private readonly calls = new Map<string, PivotDebugRecord[]>();

  constructor(opts: PivotDebugStoreOptions = {}) {
    this.maxCalls = Math.max(1, opts.maxCalls ?? 100);
    this.maxRecordsPerCall = Math.max(1, opts.maxRecordsPerCall ?? 50);
    this.maxBodyChars = Math.max(0, opts.maxBodyChars ?? 65_536);
  }

  /** Cut a body for storage. */
  clip(body: string | undefined): string | undefined {
    if (body === undefined || body.length <= this.maxBodyChars) return body;
    return body.slice(0, this.maxBodyChars);
  }

  /** Store a record (the store keeps the object; the webhook client fills in the response fields). */
  add(rec: PivotDebugRecord): void {
    let list = this.calls.get(rec.callId);
    if (!list) {
      list = [];
      this.calls.set(rec.callId, list);
      while (this.calls.size > this.maxCalls) {
        const oldest = this.calls.keys().next().value;
        if (oldest === undefined) break;
        this.calls.delete(oldest);
      }
    }
    list.push(rec);
    if (list.length > this.maxRecordsPerCall) list.splice(0, list.length - this.maxRecordsPerCall);
  }

  /** Records of one call, oldest first (empty when unknown). */
  forCall(callId: string): readonly PivotDebugRecord[] {
    return this.calls.get(callId) ?? [];
  }

  /** Call ids with records, oldest first; optionally only one account's. */
  callIds(accountId?: string): string[] {
    const out: string[] = [];
    for (const [id, recs] of this.calls) {
      if (accountId === undefined || recs.some((r) => r.accountId === accountId)) out.push(id);
    }
    return out;
  }

  get size(): number { return this.calls.size; }

  clear(): void { this.calls.clear(); }
}
