/**
 * Prompt references → `Prompt`s (see `stored.ts`): an http(s) URL (fetched through `ctx.media`),
 * `tts://text`, or a stored media id (`url`, `file` or `tts`). Never throws: an unknown id or a fetch
 * failure is logged and gives `undefined` (the caller skips the prompt, as Kazoo does for an invalid id).
 */
import type { Prompt } from './call-control.js';
import type { ModuleContext } from './context.js';
import { errText } from './modules/data.js';
import { redactUrl } from '../util/errors.js';

const URL_RE = /^https?:\/\//i;
const TTS_RE = /^tts:\/\//i;

export type ResolvedPrompt =
  | { readonly ok: true; readonly prompt: Prompt }
  | { readonly ok: false; readonly why: 'missing' | 'unknown_id' | 'fetch_failed' | 'aborted' };

function tts(ctx: ModuleContext, text: string): Prompt {
  return { kind: 'tts', text, ...(ctx.language !== undefined ? { language: ctx.language } : {}) };
}

export async function resolvePrompt(ctx: ModuleContext, ref: string | undefined): Promise<ResolvedPrompt> {
  const id = ref?.trim() ?? '';
  if (id === '') return { ok: false, why: 'missing' };
  if (TTS_RE.test(id)) {
    const text = id.slice(6).trim();
    return text ? { ok: true, prompt: tts(ctx, text.slice(0, 1000)) } : { ok: false, why: 'missing' };
  }
  let url: string | undefined;
  let file: string | undefined;
  if (URL_RE.test(id)) {
    url = id;
  } else {
    const m = ctx.stored.media.get(id);
    if (!m) {
      ctx.log.warn({ id: id.slice(0, 200) }, 'media id not found: skipped');
      return { ok: false, why: 'unknown_id' };
    }
    if (m.tts !== undefined) return { ok: true, prompt: tts(ctx, m.tts) };
    url = m.url;
    file = m.file;
  }
  try {
    const pcm = url !== undefined ? await ctx.media.load(url, ctx.signal) : file !== undefined ? await ctx.media.loadFile(file) : undefined;
    if (!pcm) return { ok: false, why: 'unknown_id' };
    return { ok: true, prompt: { kind: 'audio', pcm } };
  } catch (err) {
    if (ctx.signal.aborted) return { ok: false, why: 'aborted' };
    ctx.log.warn({ id: redactRef(id), err: errText(err) }, 'media unavailable: skipped');
    return { ok: false, why: 'fetch_failed' };
  }
}

/** A reference for logs: URLs without credentials and query. */
function redactRef(id: string): string {
  return URL_RE.test(id) ? redactUrl(id) : id.slice(0, 200);
}
