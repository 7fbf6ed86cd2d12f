/**
 * `prepend_cid`: prefixes for the caller ID of later outbound bridges. `apply_to: current` adds the
 * prefix in front of any earlier one; `original` replaces it; `action: reset` removes it. → `_`.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';

export const prependCidModule: PivotModule = {
  name: 'prepend_cid',
  run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    if (str(d, 'action') === 'reset') {
      delete ctx.callerId.prefix;
    } else {
      const name = str(d, 'caller_id_name_prefix') ?? '';
      const number = str(d, 'caller_id_number_prefix') ?? '';
      const old = str(d, 'apply_to') === 'original' ? undefined : ctx.callerId.prefix;
      ctx.callerId.prefix = { name: name + (old?.name ?? ''), number: number + (old?.number ?? '') };
    }
    return Promise.resolve({ kind: 'next' });
  },
};
