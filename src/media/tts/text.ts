/** Text preparation for TTS: sentence splitting and Kazoo voice/language mapping. */

/** Words whose trailing period does not end a sentence. */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'ave', 'rd', 'blvd', 'no', 'vs', 'etc', 'inc', 'ltd', 'co',
  'corp', 'dept', 'approx', 'apt', 'ext', 'e.g', 'i.e', 'a.m', 'p.m', 'u.s', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul',
  'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
]);

/** Sentences longer than this are split further at , ; : (keeps the first segment's latency low). */
const MAX_SEGMENT_CHARS = 200;

/**
 * Split text into sentences: at . ! ? (and runs of them, with closing quotes/brackets) followed by
 * whitespace, and at line breaks; not after common abbreviations, single initials or inside numbers
 * ("5.72"). Over-long sentences are split at clause punctuation, then at spaces.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const normal = text.replace(/\r\n?/g, '\n');
  const re = /[.!?]+["')\]]*(?=\s|$)|\n+/g;
  let start = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(normal)) !== null) {
    const end = m.index + m[0].length;
    if (m[0][0] === '.' && m[0] === '.') {
      const before = normal.slice(start, m.index);
      const word = /([A-Za-z.]+)$/.exec(before)?.[1]?.toLowerCase() ?? '';
      if (ABBREVIATIONS.has(word) || /^[a-z]$/.test(word)) continue;
    }
    push(out, normal.slice(start, end));
    start = end;
  }
  push(out, normal.slice(start));
  return out;
}

function push(out: string[], raw: string): void {
  const s = raw.replace(/\s+/g, ' ').trim();
  if (!/[\p{L}\p{N}]/u.test(s)) return; // punctuation only
  if (s.length <= MAX_SEGMENT_CHARS) {
    out.push(s);
    return;
  }
  // Clause split, then word split, keeping pieces ≤ MAX_SEGMENT_CHARS.
  let rest = s;
  while (rest.length > MAX_SEGMENT_CHARS) {
    const window = rest.slice(0, MAX_SEGMENT_CHARS);
    let cut = Math.max(window.lastIndexOf(', '), window.lastIndexOf('; '), window.lastIndexOf(': '));
    if (cut < MAX_SEGMENT_CHARS / 4) cut = window.lastIndexOf(' ');
    if (cut <= 0) cut = MAX_SEGMENT_CHARS - 1;
    out.push(rest.slice(0, cut + 1).trim());
    rest = rest.slice(cut + 1).trim();
  }
  if (rest) out.push(rest);
}

/**
 * Make text safe and speakable: control characters become spaces (flite receives the text as a C
 * string), whitespace collapses; a `<speak>` (SSML) document is reduced to its text — tags dropped, the
 * five XML entities decoded — since the bundled engine has no SSML support.
 */
export function cleanText(text: string): string {
  let s = text;
  if (/^\s*(?:<\?xml[^>]*>\s*)?<speak[\s>]/i.test(s)) {
    s = s
      .replace(/<break\b[^>]*>/gi, ', ')
      .replace(/<\/?(?:p|s)\b[^>]*>/gi, '. ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&(lt|gt|quot|apos|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '');
  }
  return s.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
}

/** Kazoo's generic voice names → flite voices. */
export const KAZOO_VOICES: Readonly<Record<string, string>> = Object.freeze({
  female: 'slt',
  woman: 'slt',
  male: 'rms',
  man: 'rms',
});

/**
 * Map a requested voice to one of `available`: Kazoo names (female/male, also "female/en-US"), flite
 * names (slt, rms, …, also "cmu_us_slt") pass through. Returns undefined when it is not recognised.
 */
export function mapVoice(requested: string, available: Readonly<Record<string, unknown>>): string | undefined {
  let v = requested.trim().toLowerCase();
  const slash = v.indexOf('/');
  if (slash >= 0) v = v.slice(0, slash);
  v = v.replace(/^cmu_us_/, '');
  const kazoo = KAZOO_VOICES[v];
  if (kazoo !== undefined && kazoo in available) return kazoo;
  return v in available ? v : undefined;
}

/** True for languages the bundled voices speak (English, any region). Absent language counts as English. */
export function isEnglish(language: string | undefined): boolean {
  if (!language) return true;
  return /^en(?:[-_]|$)/i.test(language.trim());
}
