/**
 * `menu` (PIVOT.md 3.1, 2.5): a stored auto-attendant (`menus` in the config; `id` names it).
 *
 * Each attempt (up to `retries`): the greeting plays (a key cuts it), then up to `max_extension_length`
 * keys are collected (`timeout` for the first after the greeting, `interdigit_timeout` between keys, `#`
 * ends an entry early). Keys typed before the menu starts count as the start of the first entry.
 * - an entry that is a child key → that child;
 * - nothing entered → the `timeout` child if there is one, else the next attempt;
 * - anything else → the invalid prompt, then the next attempt.
 * When the attempts run out: the `max_retries` child if there is one; else the exit prompt, then → `_`.
 * An unknown menu id is logged and → `_`. Menu keys never go into the `Digits` collections.
 */
import type { CallflowNode } from '../callflow.js';
import type { Prompt } from '../call-control.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import type { TimerHandle } from '../../util/clock.js';
import { resolvePrompt } from '../media-prompt.js';
import { int, str } from './data.js';
import { ABORTED } from '../../util/errors.js';

const MAX_WAIT_MS = 3_600_000;
const MAX_RETRIES = 20;
const MAX_ENTRY = 32;

export const DEFAULT_INVALID_TEXT = 'That is not a valid option.';
export const DEFAULT_EXIT_TEXT = 'Goodbye.';

function hasChild(node: CallflowNode, key: string): boolean {
  return !!node.children && Object.prototype.hasOwnProperty.call(node.children, key);
}

export interface CollectOptions {
  readonly max: number;
  readonly timeoutMs: number;
  readonly interdigitMs: number;
  /** Keys that end an entry (not part of it); default `#`. */
  readonly terminators?: ReadonlySet<string>;
}

const HASH: ReadonlySet<string> = new Set(['#']);

/**
 * Play `prompt` (or several, in turn; the first key cuts them all) and collect an entry. Pending
 * (typed-ahead) keys come first and skip the prompts. A terminator (default `#`) ends the entry and is not
 * part of it. Resolves "" on timeout or when the call ends.
 */
export async function promptAndCollect(ctx: ModuleContext, prompt: Prompt | readonly Prompt[] | undefined, o: CollectOptions): Promise<string> {
  const terms = o.terminators ?? HASH;
  const prompts: readonly Prompt[] = prompt === undefined ? [] : Array.isArray(prompt) ? prompt : [prompt as Prompt];
  let entry = '';
  let done = false;
  while (!done && ctx.digits.size > 0) {
    const d = ctx.digits.shift();
    if (d === undefined) break;
    if (terms.has(d)) { done = true; break; }
    entry += d;
    if (entry.length >= o.max) done = true;
  }
  if (done || ctx.signal.aborted) return entry;

  const local = new AbortController();
  let timer: TimerHandle | undefined;
  let wake: (() => void) | undefined;
  const finish = (): void => {
    done = true;
    local.abort(ABORTED);
    ctx.clock.clearTimeout(timer);
    timer = undefined;
    wake?.();
  };
  const arm = (ms: number): void => {
    ctx.clock.clearTimeout(timer);
    timer = ctx.clock.setTimeout(finish, ms);
  };
  const stop = ctx.digits.listen((d) => {
    if (done) return;
    local.abort(ABORTED); // a key cuts the greeting
    if (terms.has(d)) { finish(); return; }
    entry += d;
    if (entry.length >= o.max) finish();
    else arm(o.interdigitMs);
  });
  ctx.signal.addEventListener('abort', finish, { once: true });
  try {
    for (const p of prompts) {
      if (entry !== '' || done || local.signal.aborted) break;
      await ctx.call.play(p, { signal: local.signal }).catch(() => 'finished');
    }
    if (!done) {
      if (timer === undefined) arm(entry === '' ? o.timeoutMs : o.interdigitMs);
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (done) resolve();
      });
    }
  } finally {
    stop();
    ctx.clock.clearTimeout(timer);
    ctx.signal.removeEventListener('abort', finish);
  }
  return entry;
}

async function playRef(ctx: ModuleContext, ref: string | false | undefined, dflt: string): Promise<void> {
  if (ref === false) return;
  let prompt: Prompt | undefined;
  if (ref === undefined) {
    prompt = { kind: 'tts', text: dflt, ...(ctx.language !== undefined ? { language: ctx.language } : {}) };
  } else {
    const r = await resolvePrompt(ctx, ref);
    if (r.ok) prompt = r.prompt;
  }
  if (!prompt || ctx.signal.aborted) return;
  await ctx.call.play(prompt, { signal: ctx.signal }).catch(() => 'finished');
}

export const menuModule: PivotModule = {
  name: 'menu',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const id = str(node.data, 'id') ?? '';
    const menu = ctx.stored.menus.get(id);
    if (!menu) {
      ctx.log.warn({ id: id.slice(0, 200) }, 'menu: no stored menu with this id: → _');
      return { kind: 'next' };
    }
    await ctx.call.answer().catch(() => undefined);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };

    const greeting = menu.greeting !== undefined ? await resolvePrompt(ctx, menu.greeting) : undefined;
    const opts: CollectOptions = {
      max: Math.max(1, Math.min(MAX_ENTRY, menu.maxExtensionLength)),
      timeoutMs: Math.max(1, Math.min(MAX_WAIT_MS, menu.timeout)),
      interdigitMs: Math.max(1, Math.min(MAX_WAIT_MS, int(node.data, 'interdigit_timeout', menu.interdigitTimeout))),
    };
    const attempts = Math.max(1, Math.min(MAX_RETRIES, menu.retries));
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const entry = await promptAndCollect(ctx, greeting?.ok ? greeting.prompt : undefined, opts);
      if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
      ctx.log.debug({ menu: id, attempt, entry }, 'menu entry');
      if (entry === '') {
        if (hasChild(node, 'timeout')) return { kind: 'next', keys: ['timeout'], noDefault: true };
        continue;
      }
      if (entry !== '_' && hasChild(node, entry)) return { kind: 'next', keys: [entry], noDefault: true };
      if (attempt < attempts || !hasChild(node, 'max_retries')) {
        await playRef(ctx, menu.invalidMedia, DEFAULT_INVALID_TEXT);
        if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
      }
    }
    if (hasChild(node, 'max_retries')) return { kind: 'next', keys: ['max_retries'], noDefault: true };
    await playRef(ctx, menu.exitMedia, DEFAULT_EXIT_TEXT);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
