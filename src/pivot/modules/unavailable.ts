/**
 * Modules that pass validation but are not implemented yet (bridging, recording, conference, menu…,
 * later issues). Running one counts as that module failing, with its failure handling:
 * - `resources`/`offnet`: a cause/code child only (`UNSPECIFIED`, `sip:600`, the Kazoo defaults);
 *   without one the call hangs up (Kazoo does NOT go to `_` here);
 * - bridge modules (`device`, `user`, `ring_group`, `group`): cause/code child, else `_`;
 * - anything else: logged, then `_`.
 * A later issue replaces an entry of `MODULES` in `modules/index.ts` with the real module.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';

const FAILURE_KEYS = ['UNSPECIFIED', 'sip:600'] as const;
const BRIDGES = new Set(['device', 'user', 'ring_group', 'group']);
const OFFNET = new Set(['resources', 'offnet']);

export const unavailableModule: PivotModule = {
  name: '(unavailable)',
  run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    ctx.log.warn({ module: node.module }, 'module not yet available: treated as failed');
    if (OFFNET.has(node.module)) return Promise.resolve({ kind: 'next', keys: FAILURE_KEYS, noDefault: true });
    if (BRIDGES.has(node.module)) return Promise.resolve({ kind: 'next', keys: FAILURE_KEYS });
    return Promise.resolve({ kind: 'next' });
  },
};
