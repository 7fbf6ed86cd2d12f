/**
 * `ring_group`: ring devices and users, simultaneously or one after another, `repeats` times (PIVOT.md 3.3).
 * Answered → ends with the bridged call. Unanswered → the cause/code child if present, else `_`.
 * `weighted_random` rings in a weight-random order, one at a time; `group` endpoints are stored ring groups.
 * Also `group`: a stored ring group by `id` (config `ringGroups`), with the node's timeout/repeats/strategy.
 */
import type { EndpointRef } from '../call-control.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';
import { bridgeEndpoints } from './device.js';
import { seconds } from './resources.js';

export const ringGroupModule: PivotModule = {
  name: 'ring_group',
  run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const raw = Array.isArray(d.endpoints) ? (d.endpoints as unknown[]) : [];
    const groupTimeout = seconds(d, 'timeout', 20) || 20;
    const eps: Array<EndpointRef & { weight: number }> = [];
    for (const e of raw.slice(0, 64)) {
      if (typeof e !== 'object' || e === null) continue;
      const o = e as Record<string, unknown>;
      const type = o.endpoint_type;
      if (typeof o.id !== 'string' || (type !== 'device' && type !== 'user' && type !== 'group')) continue;
      eps.push({
        type, id: o.id, delaySeconds: seconds(o, 'delay', 0), timeoutSeconds: seconds(o, 'timeout', groupTimeout) || groupTimeout,
        weight: Math.min(100, Math.max(1, seconds(o, 'weight', 1))),
      });
    }
    const strategy = str(d, 'strategy');
    let ordered = eps;
    if (strategy === 'weighted_random') {
      ordered = eps.map((e) => ({ e, k: Math.random() ** (1 / e.weight) })).sort((a, b) => b.k - a.k).map((x) => x.e);
    }
    const repeats = Math.min(10, Math.max(1, seconds(d, 'repeats', 1)));
    return bridgeEndpoints(node, ctx, ordered.map(({ weight: _w, ...e }) => e), {
      strategy: strategy === 'single' || strategy === 'weighted_random' ? 'single' : 'simultaneous', timeoutSeconds: groupTimeout, repeats,
    });
  },
};

export const groupModule: PivotModule = {
  name: 'group',
  run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const id = str(d, 'id');
    if (!id) return Promise.resolve({ kind: 'next' });
    const timeout = seconds(d, 'timeout', 20) || 20;
    const strategy = str(d, 'strategy');
    const strategyGiven = strategy === 'single' || strategy === 'simultaneous';
    // What the module leaves out comes from the stored group (its own strategy and timeout).
    return bridgeEndpoints(node, ctx, [{ type: 'group', id, delaySeconds: 0, timeoutSeconds: timeout }], {
      timeoutSeconds: timeout, repeats: Math.min(10, Math.max(1, seconds(d, 'repeats', 1))),
      ...(strategyGiven ? { strategy } : {}),
      defaultsFromGroup: { strategy: !strategyGiven, timeout: d.timeout === undefined },
    });
  },
};
