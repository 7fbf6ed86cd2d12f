/** `noop`: does nothing, → `_`. */
import type { PivotModule, Step } from '../context.js';

export const noopModule: PivotModule = {
  name: 'noop',
  run(): Promise<Step> { return Promise.resolve({ kind: 'next' }); },
};
