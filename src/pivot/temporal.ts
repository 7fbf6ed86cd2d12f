/**
 * Temporal rule matching for `temporal_route`: local calendar parts of an instant in an IANA time zone
 * (through `Intl.DateTimeFormat`, formatters cached per zone), and the rule conditions of `StoredTemporalRule`.
 */
import type { StoredTemporalRule } from './stored.js';

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  /** 0 = Sunday … 6 = Saturday. */
  wday: number;
  /** Seconds since local midnight. */
  secs: number;
  /** `YYYY-MM-DD`. */
  date: string;
}

const WDAY: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const MAX_FORMATTERS = 64;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** True when `tz` is a time zone `Intl` knows. */
export function isValidTimeZone(tz: string): boolean {
  return formatter(tz) !== undefined;
}

function formatter(tz: string): Intl.DateTimeFormat | undefined {
  let f = formatters.get(tz);
  if (f) return f;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  } catch {
    return undefined;
  }
  if (formatters.size >= MAX_FORMATTERS) formatters.clear();
  formatters.set(tz, f);
  return f;
}

/** Calendar parts of `epochMs` in `tz`; undefined for an unknown zone. */
export function localParts(epochMs: number, tz: string): LocalParts | undefined {
  const f = formatter(tz);
  if (!f) return undefined;
  let year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, wday = 0;
  for (const p of f.formatToParts(new Date(epochMs))) {
    switch (p.type) {
      case 'year': year = Number(p.value); break;
      case 'month': month = Number(p.value); break;
      case 'day': day = Number(p.value); break;
      case 'hour': hour = Number(p.value) % 24; break;
      case 'minute': minute = Number(p.value); break;
      case 'second': second = Number(p.value); break;
      case 'weekday': wday = WDAY[p.value] ?? 0; break;
      default: break;
    }
  }
  const date = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  return { year, month, day, wday, secs: hour * 3600 + minute * 60 + second, date };
}

/**
 * Does `rule` hold at `epochMs`? The zone is `tzOverride` (the node's `timezone`) if valid, else the rule's,
 * else UTC. `lookup` resolves the members of a rule set (depth-limited, so a cycle cannot loop).
 */
export function ruleMatches(
  rule: StoredTemporalRule,
  epochMs: number,
  tzOverride?: string,
  lookup?: (id: string) => StoredTemporalRule | undefined,
  depth = 0,
): boolean {
  if (rule.enabled === true) return true;
  if (rule.enabled === false) return false;
  if (rule.temporalRules && rule.temporalRules.length > 0) {
    if (depth >= 4 || !lookup) return false;
    return rule.temporalRules.some((id) => {
      const r = lookup(id);
      return r !== undefined && ruleMatches(r, epochMs, tzOverride, lookup, depth + 1);
    });
  }
  const tz = tzOverride && isValidTimeZone(tzOverride) ? tzOverride : rule.timezone ?? 'UTC';
  const p = localParts(epochMs, tz) ?? localParts(epochMs, 'UTC');
  if (!p) return false;
  if (rule.startDate !== undefined && p.date < rule.startDate) return false;
  if (rule.endDate !== undefined && p.date > rule.endDate) return false;
  if (rule.wdays && rule.wdays.length > 0 && !rule.wdays.includes(p.wday)) return false;
  if (rule.dates && rule.dates.length > 0) {
    const md = p.date.slice(5);
    if (!rule.dates.some((d) => d === p.date || d === md)) return false;
  }
  const start = rule.timeWindowStart ?? 0;
  const stop = rule.timeWindowStop ?? 86400;
  if (start <= stop) return p.secs >= start && p.secs < stop;
  return p.secs >= start || p.secs < stop;
}
