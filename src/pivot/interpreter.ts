/**
 * The callflow interpreter (PIVOT.md 2.4, 2.5): runs a node, then the child its `Step` names.
 * - `next`: the first of `keys` present in `children`, else `_` (unless `noDefault`); a missing child
 *   or `{}` ends the flow (the session then hangs up).
 * - `replace`: a `pivot` reply restarts execution at its root; the old children are dropped.
 * - `skip_module: true` on any node → `_` without running it.
 * - At most `maxNodes` nodes run per call (a script looping without media is stopped).
 */
import { isCallflowNode, type CallflowNode } from './callflow.js';
import type { ModuleContext, PivotModule, Step } from './context.js';
import { MODULES, moduleFor } from './modules/index.js';

export const DEFAULT_MAX_NODES = 10_000;

export interface InterpreterOptions {
  maxNodes?: number;
  registry?: ReadonlyMap<string, PivotModule>;
}

export interface FlowOutcome {
  /**
   * `completed` (the flow ran out of nodes), `hangup`, `response`, `caller_hangup`, `node_limit`,
   * `module_error`, `pivot_<failure reason>` (strict-mode hang-up), `wait_for_hangup_cap`.
   */
  readonly reason: string;
  readonly nodes: number;
}

/** The child to run after `node`, per `step` (undefined → the flow ends). */
export function nextChild(node: CallflowNode, step: Extract<Step, { kind: 'next' }>): CallflowNode | undefined {
  const children = node.children ?? {};
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(children, k);
  for (const key of step.keys ?? []) {
    if (has(key)) { const c = children[key]; return isCallflowNode(c) ? c : undefined; }
  }
  if (step.noDefault && (step.keys?.length ?? 0) > 0) return undefined;
  const c = has('_') ? children._ : undefined;
  return isCallflowNode(c) ? c : undefined;
}

export async function runFlow(root: CallflowNode, ctx: ModuleContext, opts: InterpreterOptions = {}): Promise<FlowOutcome> {
  const maxNodes = opts.maxNodes ?? DEFAULT_MAX_NODES;
  const registry = opts.registry ?? MODULES;
  let node: CallflowNode | undefined = root;
  let nodes = 0;
  for (;;) {
    if (ctx.signal.aborted) return { reason: 'caller_hangup', nodes };
    if (!node) return { reason: 'completed', nodes };
    if (++nodes > maxNodes) {
      ctx.log.warn({ maxNodes }, 'node limit reached: ending the call');
      return { reason: 'node_limit', nodes: nodes - 1 };
    }
    let step: Step;
    if (node.data.skip_module === true) {
      step = { kind: 'next' };
    } else {
      const mod = moduleFor(node.module, registry);
      ctx.log.debug({ module: node.module }, 'run module');
      try {
        step = await mod.run(node, ctx);
      } catch (err) {
        ctx.log.error({ module: node.module, err: err instanceof Error ? err.message : String(err) }, 'module threw');
        return { reason: 'module_error', nodes };
      }
    }
    // A module that ended the call itself (hangup, response) reports its own reason.
    if (step.kind === 'end') return { reason: step.reason, nodes };
    if (ctx.signal.aborted) return { reason: 'caller_hangup', nodes };
    switch (step.kind) {
      case 'replace': node = step.flow; break;
      case 'next': node = nextChild(node, step); break;
    }
  }
}
