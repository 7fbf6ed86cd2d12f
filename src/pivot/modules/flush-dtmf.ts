/**
 * `flush_dtmf`: clears `collection_name` (default `default`). Flushing `default` also drops digits
 * typed ahead and not yet collected (the pending buffer). → `_`.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';

export const flushDtmfModule: PivotModule = {
  name: 'flush_dtmf',
  run(node, ctx: ModuleContext): Promise<Step> {
    const name = str(node.data, 'collection_name') ?? 'default';
    ctx.collections.delete(name);
    if (name === 'default') ctx.digits.clear();
    return Promise.resolve({ kind: 'next' });
  },
};
