/** ConferenceManager (main thread): rooms by key, limits, require_moderator, stats and room removal; worker messages checked. */
import t from 'tap';
import { ConferenceManager } from '../../src/pbx/conference.js';
import { parseConferenceConfig } from '../../src/pivot/conference-config.js';
import type { MediaEngine, MediaSession } from '../../src/rtp/media-engine.js';
import type { ToWorker } from '../../src/rtp/protocol.js';
import { getLogger } from '../../src/util/logger.js';

type CloseFn = (reason: 'closed' | 'worker-crash') => void;
interface FakeSession { slotIndex: number; sid: number; closed: boolean; closeListeners: Set<CloseFn>; crash(): void }

function fakes(): { engine: MediaEngine; posted: Array<{ slot: number; msg: ToWorker }>; session(slot: number): MediaSession } {
  const posted: Array<{ slot: number; msg: ToWorker }> = [];
  let sid = 1;
  const engine = { postTo: (slot: number, msg: ToWorker) => { posted.push({ slot, msg }); } } as unknown as MediaEngine;
  const session = (slot: number): MediaSession => {
    const s: FakeSession & { on(e: string, fn: CloseFn): unknown; off(e: string, fn: CloseFn): unknown } = {
      slotIndex: slot, sid: sid++, closed: false, closeListeners: new Set(),
      on(e, fn) { if (e === 'close') s.closeListeners.add(fn); return s; },
      off(e, fn) { if (e === 'close') s.closeListeners.delete(fn); return s; },
      crash() { s.closed = true; for (const fn of [...s.closeListeners]) fn('worker-crash'); },
    };
    return s as unknown as MediaSession;
  };
  return { engine, posted, session };
}

t.test('members on two workers share one room homed on the first; the last leave removes it', async (t) => {
  const f = fakes();
  const mgr = new ConferenceManager(f.engine, getLogger('test'));
  const settings = parseConferenceConfig({ name: 'R' }, 'c');
  const a = mgr.join('acct/name:R', settings, f.session(1), false);
  const b = mgr.join('acct/name:R', settings, f.session(0), false);
  const other = mgr.join('acct2/name:R', settings, f.session(0), false);
  t.same(mgr.stats(), { rooms: 2, members: 3 }, 'the same name in another account is another room');
  const joins = f.posted.filter((p) => p.msg.t === 'confJoin');
  t.same(joins.map((p) => p.slot), [1, 1, 0], 'both members of R are mixed on worker 1 (the first member\'s)');
  const attach = f.posted.filter((p) => p.msg.t === 'confAttach');
  t.same(attach.map((p) => p.slot), [1, 0, 0], 'each member is attached on its own worker');
  const j0 = joins[0]!.msg as Extract<ToWorker, { t: 'confJoin' }>;
  const a0 = attach[0]!.msg as Extract<ToWorker, { t: 'confAttach' }>;
  t.equal(j0.buf, a0.buf, 'mixer and member share one SharedArrayBuffer');
  t.ok(j0.buf instanceof SharedArrayBuffer);
  if (a.kind !== 'joined' || b.kind !== 'joined' || other.kind !== 'joined') throw new Error('join failed');
  f.posted.length = 0;
  a.member.leave();
  a.member.leave();
  t.same(mgr.stats(), { rooms: 2, members: 2 }, 'leave is idempotent');
  t.same(f.posted.map((p) => [p.slot, p.msg.t]), [[1, 'confDetach'], [1, 'confLeave']]);
  b.member.leave();
  other.member.leave();
  t.same(mgr.stats(), { rooms: 0, members: 0 }, 'empty rooms are removed');
});

t.test('max_participants and require_moderator', async (t) => {
  const f = fakes();
  const mgr = new ConferenceManager(f.engine, getLogger('test'));
  const s = parseConferenceConfig({ name: 'Board', max_participants: 3, require_moderator: true, member: { join_muted: true } }, 'c');
  const mod = mgr.join('k', s, f.session(0), true);
  const m1 = mgr.join('k', s, f.session(0), false);
  const m2 = mgr.join('k', s, f.session(1), false);
  t.same(mgr.join('k', s, f.session(1), false), { kind: 'full' }, 'the fourth is turned away');
  const flags = f.posted.filter((p) => p.msg.t === 'confJoin').map((p) => { const m = p.msg as Extract<ToWorker, { t: 'confJoin' }>; return [m.moderator, m.muted]; });
  t.same(flags, [[true, false], [false, true], [false, true]], 'members join muted per member.join_muted; the moderator does not');
  if (mod.kind !== 'joined' || m1.kind !== 'joined' || m2.kind !== 'joined') throw new Error('join failed');
  let ended = 0;
  m1.member.onRoomEnded(() => ended++);
  m2.member.onRoomEnded(() => ended++);
  m1.member.leave(); // a member leaving does not end the room
  t.equal(ended, 0);
  mod.member.leave();
  t.equal(ended, 1, 'the last moderator left: the remaining member is told the room ended');
  t.same(mgr.stats(), { rooms: 0, members: 0 });
});

t.test('the home worker crashes: the room moves to a surviving member\'s worker with the same rings', async (t) => {
  const f = fakes();
  const mgr = new ConferenceManager(f.engine, getLogger('test'));
  const settings = parseConferenceConfig({ name: 'R' }, 'c');
  const sa = f.session(0);
  const a = mgr.join('k', settings, sa, false);
  const b = mgr.join('k', settings, f.session(1), false);
  const c = mgr.join('k', settings, f.session(1), false);
  if (a.kind !== 'joined' || b.kind !== 'joined' || c.kind !== 'joined') throw new Error('join failed');
  const firstBufs = f.posted.filter((p) => p.msg.t === 'confJoin').map((p) => (p.msg as Extract<ToWorker, { t: 'confJoin' }>).buf);
  t.same(mgr.list().map((r) => r.homeWorker), [0]);
  f.posted.length = 0;
  (sa as unknown as FakeSession).crash(); // worker 0 died: a's session closes with 'worker-crash'
  const rejoined = f.posted.filter((p) => p.msg.t === 'confJoin');
  t.same(rejoined.map((p) => [p.slot, (p.msg as Extract<ToWorker, { t: 'confJoin' }>).mid]), [[1, b.member.mid], [1, c.member.mid]], 'b and c are mixed on worker 1 now');
  t.same(rejoined.map((p) => (p.msg as Extract<ToWorker, { t: 'confJoin' }>).buf), firstBufs.slice(1), 'with the rings they already use');
  t.same(mgr.list(), [{ name: 'R', members: 3, homeWorker: 1, rehomed: 1 }]);
  a.member.leave(); b.member.leave(); c.member.leave();
  t.same(mgr.stats(), { rooms: 0, members: 0 });
  t.equal((sa as unknown as FakeSession).closeListeners.size, 0, 'close listeners removed on leave');
});
