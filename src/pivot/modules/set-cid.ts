/**
 * `set_cid`: caller ID for later outbound bridges (stored on the session); an empty value clears that
 * part of the override. Does not change `Caller-ID-*` in pivot requests. → `_`.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';

export const setCidModule: PivotModule = {
  name: 'set_cid',
  run(node, ctx: ModuleContext): Promise<Step> {
    const name = str(node.data, 'caller_id_name') ?? '';
    const number = str(node.data, 'caller_id_number') ?? '';
    if (!name && !number) delete ctx.callerId.override;
    else ctx.callerId.override = { ...(name ? { name } : {}), ...(number ? { number } : {}) };
    return Promise.resolve({ kind: 'next' });
  },
};
