/**
 * Locating a SIP server (RFC 3263 §4, the parts a PBX dialling its carriers needs): an IP address is used as
 * given; a host name with an explicit port is looked up by A/AAAA; a host name without a port is looked up by
 * SRV (`_sip._udp.` or `_sip._tcp.` per the transport, RFC 2782 order: priority ascending, then weighted random
 * within a priority), each target by A/AAAA; no SRV record → the name's A/AAAA at 5060.
 *
 * Answers are cached for `cacheMs` (Node's resolver gives SRV no TTL), at most `maxEntries` names; every query
 * has a timeout. A failure gives an empty list (the caller treats it as an unreachable gateway).
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface SipTarget { readonly address: string; readonly port: number; readonly transport: 'udp' | 'tcp' }

export interface SipResolverOptions {
  /** DNS servers (`ip` or `ip:port`); default the system's. */
  servers?: readonly string[];
  timeoutMs?: number;
  cacheMs?: number;
  maxEntries?: number;
  /** Random source for the weighted choice (tests). */
  random?: () => number;
  now?: () => number;
}

interface SrvRecord { name: string; port: number; priority: number; weight: number }

/** RFC 2782 ordering: by priority; within one, repeatedly pick by weight (zero weights first at equal odds). */
export function orderSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPrio = new Map<number, SrvRecord[]>();
  for (const r of records) { const l = byPrio.get(r.priority) ?? []; l.push(r); byPrio.set(r.priority, l); }
  const out: SrvRecord[] = [];
  for (const prio of [...byPrio.keys()].sort((a, b) => a - b)) {
    const left = [...byPrio.get(prio)!].sort((a, b) => a.weight - b.weight);
    while (left.length > 0) {
      const total = left.reduce((t, r) => t + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let x = random() * total;
        pick = left.findIndex((r) => (x -= r.weight) < 0);
        if (pick < 0) pick = left.length - 1;
      }
      out.push(left.splice(pick, 1)[0]!);
    }
  }
  return out;
}

/**
 * Where to send to `host` (port undefined: SRV first): an IP literal (`[v6]` too) at once, without a DNS round, so a
 * caller on an IP stays synchronous; a name through `resolver`, or as given when there is none (the OS looks it up).
 * Calls to gateways and URIs and gateway registration all locate through here.
 */
export function locate(resolver: Pick<SipResolver, 'resolve'> | undefined, host: string, port: number | undefined,
  transport: 'udp' | 'tcp'): SipTarget[] | Promise<SipTarget[]> {
  const h = host.replace(/^\[|\]$/g, '');
  const literal = isIP(h) !== 0;
  if (literal || !resolver) return [{ address: literal ? h : host, port: port ?? 5060, transport }];
  return resolver.resolve(host, port, transport);
}

export class SipResolver {
  private readonly resolver = new Resolver();
  private readonly cache = new Map<string, { at: number; targets: SipTarget[] }>();
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly maxEntries: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(o: SipResolverOptions = {}) {
    if (o.servers && o.servers.length > 0) this.resolver.setServers([...o.servers]);
    this.timeoutMs = o.timeoutMs ?? 3000;
    this.cacheMs = o.cacheMs ?? 60000;
    this.maxEntries = o.maxEntries ?? 256;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
  }

  /** Targets for `host` (port undefined: SRV first), in the order to try them. */
  async resolve(host: string, port: number | undefined, transport: 'udp' | 'tcp'): Promise<SipTarget[]> {
    const h = host.replace(/^\[|\]$/g, '');
    if (isIP(h) !== 0) return [{ address: h, port: port ?? 5060, transport }];
    const key = `${transport} ${h.toLowerCase()} ${port ?? ''}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.cacheMs) return hit.targets;
    let targets: SipTarget[] = [];
    if (port === undefined) {
      const srv = await this.query(() => this.resolver.resolveSrv(`_sip._${transport}.${h}`));
      if (srv && srv.length > 0) {
        for (const r of orderSrv(srv, this.random)) {
          for (const a of await this.addresses(r.name)) targets.push({ address: a, port: r.port, transport });
        }
      }
    }
    if (targets.length === 0) targets = (await this.addresses(h)).map((a) => ({ address: a, port: port ?? 5060, transport }));
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { at: this.now(), targets });
    return targets;
  }

  private async addresses(name: string): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    const v4 = await this.query(() => this.resolver.resolve4(name));
    if (v4 && v4.length > 0) return v4;
    return (await this.query(() => this.resolver.resolve6(name))) ?? [];
  }

  private async query<T>(fn: () => Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), this.timeoutMs); }),
      ]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
