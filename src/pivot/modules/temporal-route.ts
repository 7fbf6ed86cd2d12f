/**
 * `temporal_route` (PIVOT.md 3.5): test the stored temporal rules named in `rules` (then `rule_set`, then
 * every non-`_` child key, each also taken as a rule id), in that order, at the current wall-clock time
 * (`ctx.now()`), in the node's `timezone` (else the rule's, else UTC). The first matching rule id's child
 * runs (no such child → `_`); no match → `_`. Unknown rule ids never match. `action` (rule management from
 * the keypad) is not supported: logged, → `_`.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { ruleMatches } from '../temporal.js';
import { str, strList } from './data.js';

const MAX_RULES = 256;

export const temporalRouteModule: PivotModule = {
  name: 'temporal_route',
  run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const action = str(d, 'action');
    if (action !== undefined) {
      ctx.log.warn({ action }, 'temporal_route: rule management actions are not supported: → _');
      return Promise.resolve({ kind: 'next' });
    }
    const ids: string[] = [];
    const add = (id: string): void => { if (id !== '_' && !ids.includes(id) && ids.length < MAX_RULES) ids.push(id); };
    for (const id of strList(d, 'rules') ?? []) add(id);
    const ruleSet = str(d, 'rule_set');
    if (ruleSet !== undefined) add(ruleSet);
    for (const key of Object.keys(node.children ?? {})) add(key);
    const tz = str(d, 'timezone');
    const now = ctx.now();
    const rules = ctx.stored.temporalRules;
    for (const id of ids) {
      const rule = rules.get(id);
      if (rule && ruleMatches(rule, now, tz, (x) => rules.get(x))) {
        ctx.log.debug({ rule: id }, 'temporal_route matched');
        return Promise.resolve({ kind: 'next', keys: [id] });
      }
    }
    ctx.log.debug({ tested: ids.length }, 'temporal_route: no rule matched: → _');
    return Promise.resolve({ kind: 'next' });
  },
};
