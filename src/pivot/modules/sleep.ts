/**
 * `sleep`: `duration` × `unit` (ms/s/m/h, default s), capped at 24 h, then → `_`.
 * It just waits on the clock: no prompt is played, the call layer keeps RTP flowing while no prompt
 * plays (a 24 h silence prompt would be a 24 h buffer). Digits typed meanwhile stay pending.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { int, str } from './data.js';

export const SLEEP_CAP_MS = 24 * 3600 * 1000;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const sleepModule: PivotModule = {
  name: 'sleep',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const ms = Math.min(SLEEP_CAP_MS, Math.max(0, int(node.data, 'duration', 0) * (UNIT_MS[str(node.data, 'unit') ?? 's'] ?? 1000)));
    if (ms > 0 && !(await ctx.wait(ms))) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
