/**
 * Child processes the bench started (Hookline, SIPp), killed synchronously when the bench process exits for any
 * reason (an uncaught error included), so none outlives it. Signals (Ctrl-C) go through the orderly cleanup first.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) { try { c.kill('SIGKILL'); } catch { /* already gone */ } }
    });
  }
}
