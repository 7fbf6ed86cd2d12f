/** Typed reads of a validated node's `data` (validation already wrote defaults and checked types). */
export type Data = Readonly<Record<string, unknown>>;

export function str(d: Data, key: string): string | undefined {
  const v = d[key];
  return typeof v === 'string' ? v : undefined;
}

export function int(d: Data, key: string, dflt: number): number {
  const v = d[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

export function bool(d: Data, key: string): boolean | undefined {
  const v = d[key];
  return typeof v === 'boolean' ? v : undefined;
}

export function strList(d: Data, key: string): string[] | undefined {
  const v = d[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
