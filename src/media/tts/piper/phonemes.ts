/**
 * Text → phonemes → ids the way Piper voices were trained (rhasspy/piper-phonemize):
 *
 *   - text is phonemized clause by clause with espeak-ng (IPA, no separators, words separated by a space);
 *   - the IPA is decomposed (NFD) and split into code points: every code point is one phoneme, stress
 *     marks (ˈ ˌ) and length (ː) included; espeak's language-switch flags "(en)" are dropped;
 *   - each clause gets its terminator: "." "?" "!" as they are (they end the sentence), and "," ":" ";"
 *     followed by a space;
 *   - ids: BOS "^", pad "_", then each phoneme's ids followed by a pad, then EOS "$". Phonemes absent from
 *     the voice's map are skipped (and counted).
 */
import { splitSentences } from '../text.js';

export type PhonemeIdMap = Readonly<Record<string, readonly number[]>>;

/** One sentence's phonemes (code points) including its clause punctuation. */
export type SentencePhonemes = string[];

/** Code points of espeak IPA output, decomposed, without "(xx)" language flags. */
export function ipaPhonemes(ipa: string): string[] {
  const out: string[] = [];
  let inFlag = false;
  for (const cp of ipa.normalize('NFD')) {
    if (inFlag) {
      if (cp === ')') inFlag = false;
    } else if (cp === '(') {
      inFlag = true;
    } else {
      out.push(cp);
    }
  }
  return out;
}

export interface Clause {
  text: string;
  /** '.', '?', '!', ',', ':', ';' or '' (none). */
  terminator: string;
}

/**
 * Split text into sentences (the TTS sentence splitter: abbreviations, numbers like 5.72 stay whole)
 * and each sentence into clauses at , ; : followed by a space.
 */
export function splitClauses(text: string): Clause[][] {
  const out: Clause[][] = [];
  for (const sentence of splitSentences(text)) {
    const clauses: Clause[] = [];
    const re = /([,;:])["')\]]*\s+/g;
    let start = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(sentence)) !== null) {
      clauses.push({ text: sentence.slice(start, m.index), terminator: m[1]! });
      start = m.index + m[0].length;
    }
    const last = sentence.slice(start);
    const end = /([.?!])[.?!]*["')\]]*\s*$/.exec(last);
    clauses.push({ text: end ? last.slice(0, end.index) : last, terminator: end ? end[1]! : '' });
    out.push(clauses.filter((c) => /[\p{L}\p{N}]/u.test(c.text) || c.terminator !== ''));
  }
  return out.filter((s) => s.some((c) => /[\p{L}\p{N}]/u.test(c.text)));
}

/** Phonemes of one sentence from its clauses; `phonemize` turns one clause's text into IPA (no separators). */
export function sentencePhonemes(clauses: readonly Clause[], phonemize: (text: string) => string): SentencePhonemes {
  const out: string[] = [];
  for (const c of clauses) {
    const ipa = /[\p{L}\p{N}]/u.test(c.text) ? phonemize(c.text).trim() : '';
    out.push(...ipaPhonemes(ipa));
    if (c.terminator === '.' || c.terminator === '?' || c.terminator === '!') out.push(c.terminator);
    else if (c.terminator) out.push(c.terminator, ' ');
  }
  while (out.length > 0 && out[out.length - 1] === ' ') out.pop();
  return out;
}

/** phoneme_type "text": the sentence's own code points (decomposed), one phoneme each. */
export function textPhonemes(text: string): SentencePhonemes {
  return Array.from(text.normalize('NFD'));
}

export interface PhonemeIds {
  ids: number[];
  /** Phonemes not in the map (skipped) and how often they occurred. */
  missing: Map<string, number>;
}

/** Piper's phoneme → id mapping: ^ _ (p _)* $. */
export function phonemesToIds(phonemes: readonly string[], map: PhonemeIdMap): PhonemeIds {
  const pad = Object.hasOwn(map, '_') ? map['_'] : undefined;
  const bos = Object.hasOwn(map, '^') ? map['^'] : undefined;
  const eos = Object.hasOwn(map, '$') ? map['$'] : undefined;
  if (!pad || !bos || !eos) throw new Error('phoneme_id_map needs "_", "^" and "$"');
  const ids: number[] = [...bos, ...pad];
  const missing = new Map<string, number>();
  for (const p of phonemes) {
    const mapped = Object.hasOwn(map, p) ? map[p] : undefined;
    if (!mapped) {
      missing.set(p, (missing.get(p) ?? 0) + 1);
      continue;
    }
    ids.push(...mapped, ...pad);
  }
  ids.push(...eos);
  return { ids, missing };
}
