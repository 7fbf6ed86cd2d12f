/**
 * `collect_dtmf` (PIVOT.md 3.1, 2.7): answers, then collects up to `max_digits` into
 * `collection_name`. Type-ahead: the `default` collection (cut at the first terminator) is the
 * prefix and is cleared; then pending digits; then live digits. The terminator is not stored; a
 * timeout with nothing stores "". Always → `_`.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { int, str, strList } from './data.js';
import type { TimerHandle } from '../../util/clock.js';

export const MAX_DIGITS = 128;
export const MAX_WAIT_MS = 24 * 3600 * 1000;

export const collectDtmfModule: PivotModule = {
  name: 'collect_dtmf',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    // Bounds (not schema limits, so valid Kazoo flows are not rejected): 128 digits, 24 h waits.
    const max = Math.min(MAX_DIGITS, int(d, 'max_digits', 1));
    const firstTimeout = Math.min(MAX_WAIT_MS, int(d, 'timeout', 5000));
    const interdigit = Math.min(MAX_WAIT_MS, int(d, 'interdigit_timeout', 2000));
    const name = str(d, 'collection_name') ?? 'default';
    const single = str(d, 'terminator');
    const terms = new Set(single !== undefined ? [single] : strList(d, 'terminators') ?? ['#']);

    await ctx.call.answer().catch(() => undefined);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };

    // 1–2: the default collection is the prefix, cut at the first terminator, then cleared.
    let collected = '';
    let done = false;
    const prefix = ctx.collections.get('default') ?? '';
    ctx.collections.delete('default');
    for (const ch of prefix) {
      if (terms.has(ch)) { done = true; break; }
      collected += ch;
      if (collected.length >= max) { done = true; break; }
    }
    // 3a: digits typed ahead while nobody listened.
    while (!done && ctx.digits.size > 0) {
      const ch = ctx.digits.shift();
      if (ch === undefined) break;
      if (terms.has(ch)) { done = true; break; }
      collected += ch;
      if (collected.length >= max) done = true;
    }
    // 3b: live digits.
    if (!done) {
      await new Promise<void>((resolve) => {
        let timer: TimerHandle | undefined;
        const finish = (): void => {
          ctx.clock.clearTimeout(timer);
          stop();
          ctx.signal.removeEventListener('abort', finish);
          resolve();
        };
        const arm = (ms: number): void => {
          ctx.clock.clearTimeout(timer);
          timer = ctx.clock.setTimeout(finish, ms);
        };
        const stop = ctx.digits.listen((ch) => {
          if (terms.has(ch)) { finish(); return; }
          collected += ch;
          if (collected.length >= max) finish();
          else arm(interdigit);
        });
        ctx.signal.addEventListener('abort', finish, { once: true });
        arm(collected.length > 0 ? interdigit : firstTimeout);
      });
    }
    ctx.setCollection(name, collected);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
