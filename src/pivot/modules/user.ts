/** `user`: ring every registered device of a user (PIVOT.md 3.3); outcomes as `device`. A user with no devices → `_`. */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';
import { bridgeEndpoints } from './device.js';
import { seconds } from './resources.js';

export const userModule: PivotModule = {
  name: 'user',
  run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const id = str(d, 'id');
    if (!id) return Promise.resolve({ kind: 'next' });
    const timeout = seconds(d, 'timeout', 0) || 20;
    const strategy = str(d, 'strategy') === 'single' ? 'single' : 'simultaneous';
    return bridgeEndpoints(node, ctx, [{ type: 'user', id, delaySeconds: seconds(d, 'delay', 0), timeoutSeconds: timeout }], { timeoutSeconds: timeout, strategy });
  },
};
