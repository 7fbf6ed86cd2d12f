/**
 * Piper voices on disk: a voice is `<name>.onnx` (the VITS model) beside `<name>.onnx.json` (its config).
 *
 * The config fields read here (as written by Piper's training export):
 *   audio.sample_rate            output rate of the model, Hz
 *   espeak.voice                 espeak-ng voice used to phonemize (en-us, de, ...)
 *   phoneme_type                 "espeak" (default) or "text" (the text's own code points)
 *   phoneme_id_map               phoneme (one code point) → [id, ...]; must hold "_" (pad), "^" (BOS), "$" (EOS)
 *   inference.noise_scale / length_scale / noise_w   default scales fed to the model
 *   num_speakers, speaker_id_map multi-speaker voices take a `sid` input
 * Anything missing or of the wrong type is a PiperVoiceError naming the file and the field.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class PiperVoiceError extends Error {
  override readonly name = 'PiperVoiceError';
  constructor(
    /** The file the problem is in. */
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface PiperVoice {
  /** File stem as found on disk, e.g. en_US-lessac-medium. */
  readonly name: string;
  /** Absolute paths of the model and its config. */
  readonly modelPath: string;
  readonly configPath: string;
  readonly sampleRate: number;
  readonly espeakVoice: string;
  readonly phonemeType: 'espeak' | 'text';
  readonly phonemeIdMap: Readonly<Record<string, readonly number[]>>;
  readonly noiseScale: number;
  readonly lengthScale: number;
  readonly noiseW: number;
  readonly numSpeakers: number;
  readonly speakerIdMap: Readonly<Record<string, number>>;
  /** Changes when either file changes (size, mtime): part of the prompt cache key. */
  readonly tag: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(file: string, obj: Record<string, unknown>, path: string, key: string, dflt?: number): number {
  const v = obj[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new PiperVoiceError(file, `${path}${key} must be a number, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

/** Validate a parsed `.onnx.json`. `file` names the config in errors. */
export function parseVoiceConfig(json: unknown, file: string): Omit<PiperVoice, 'name' | 'modelPath' | 'configPath' | 'tag'> {
  if (!isObj(json)) throw new PiperVoiceError(file, 'expected a JSON object');
  const audio = json.audio;
  if (!isObj(audio)) throw new PiperVoiceError(file, 'audio.sample_rate missing');
  const sampleRate = num(file, audio, 'audio.', 'sample_rate');
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 96000) throw new PiperVoiceError(file, `audio.sample_rate ${sampleRate} out of range 8000..96000`);
  const phonemeType = json.phoneme_type ?? 'espeak';
  if (phonemeType !== 'espeak' && phonemeType !== 'text') throw new PiperVoiceError(file, `phoneme_type ${JSON.stringify(phonemeType)} not supported (espeak or text)`);
  let espeakVoice = '';
  if (phonemeType === 'espeak') {
    const espeak = json.espeak;
    if (!isObj(espeak) || typeof espeak.voice !== 'string' || espeak.voice.trim() === '') throw new PiperVoiceError(file, 'espeak.voice missing (e.g. "en-us")');
    espeakVoice = espeak.voice.trim();
  }
  const rawMap = json.phoneme_id_map;
  if (!isObj(rawMap)) throw new PiperVoiceError(file, 'phoneme_id_map missing');
  const phonemeIdMap: Record<string, number[]> = Object.create(null) as Record<string, number[]>; // keys come from the file
  for (const [ph, ids] of Object.entries(rawMap)) {
    const list = typeof ids === 'number' ? [ids] : ids;
    if (!Array.isArray(list) || list.length === 0 || !list.every((i) => Number.isInteger(i) && (i as number) >= 0)) {
      throw new PiperVoiceError(file, `phoneme_id_map[${JSON.stringify(ph)}] must be a list of ids`);
    }
    phonemeIdMap[ph] = list as number[];
  }
  for (const s of ['_', '^', '$']) if (!(s in phonemeIdMap)) throw new PiperVoiceError(file, `phoneme_id_map has no ${JSON.stringify(s)}`);
  const inference = isObj(json.inference) ? json.inference : {};
  const noiseScale = num(file, inference, 'inference.', 'noise_scale', 0.667);
  const lengthScale = num(file, inference, 'inference.', 'length_scale', 1);
  const noiseW = num(file, inference, 'inference.', 'noise_w', 0.8);
  if (!(lengthScale > 0 && lengthScale <= 10)) throw new PiperVoiceError(file, `inference.length_scale ${lengthScale} out of range (0, 10]`);
  const numSpeakers = num(file, json, '', 'num_speakers', 1);
  if (!Number.isInteger(numSpeakers) || numSpeakers < 1) throw new PiperVoiceError(file, `num_speakers ${numSpeakers} must be an integer >= 1`);
  const speakerIdMap: Record<string, number> = Object.create(null) as Record<string, number>;
  if (isObj(json.speaker_id_map)) {
    for (const [k, v] of Object.entries(json.speaker_id_map)) {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= numSpeakers) throw new PiperVoiceError(file, `speaker_id_map[${JSON.stringify(k)}] must be an id below num_speakers`);
      speakerIdMap[k] = v as number;
    }
  }
  return { sampleRate, espeakVoice, phonemeType, phonemeIdMap, noiseScale, lengthScale, noiseW, numSpeakers, speakerIdMap };
}

/** Read one voice from its model path (`X.onnx`; the config is `X.onnx.json`). Throws PiperVoiceError. */
export function loadVoice(modelPath: string): PiperVoice {
  const configPath = `${modelPath}.json`;
  let text: string;
  let tag: string;
  try {
    const m = statSync(modelPath);
    const c = statSync(configPath);
    if (!m.isFile()) throw new PiperVoiceError(modelPath, 'not a file');
    if (m.size < 16) throw new PiperVoiceError(modelPath, `model file is ${m.size} bytes`);
    tag = `${m.size}-${Math.floor(m.mtimeMs)}-${c.size}-${Math.floor(c.mtimeMs)}`;
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    if (err instanceof PiperVoiceError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new PiperVoiceError(e.path ?? configPath, e.code === 'ENOENT' ? 'file not found' : e.message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PiperVoiceError(configPath, `not valid JSON (${(err as Error).message})`);
  }
  const base = modelPath.slice(modelPath.lastIndexOf('/') + 1);
  return { name: base.slice(0, -'.onnx'.length), modelPath, configPath, tag, ...parseVoiceConfig(json, configPath) };
}

export interface VoiceScan {
  voices: PiperVoice[];
  /** Files that look like a voice but could not be used (the voice is skipped). */
  errors: PiperVoiceError[];
}

/** Most voices read from one folder (each costs a config parse and, once used, a model in memory). */
export const MAX_VOICES = 256;

/**
 * Find the voices in `dir` (not recursive). A missing folder is one error, not an exception. Voices in
 * `known` (by model path) are reused without reading their files again, so a rescan costs a folder listing
 * plus the new voices.
 */
export function scanVoices(dir: string, known?: ReadonlyMap<string, PiperVoice>): VoiceScan {
  const voices: PiperVoice[] = [];
  const errors: PiperVoiceError[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    errors.push(new PiperVoiceError(dir, e.code === 'ENOENT' ? 'voices folder not found' : e.message));
    return { voices, errors };
  }
  const present = new Set(names);
  for (const n of names) {
    if (n.endsWith('.onnx.json') && !present.has(n.slice(0, -'.json'.length))) {
      errors.push(new PiperVoiceError(join(dir, n), `no model beside it (expected ${n.slice(0, -'.json'.length)})`));
    }
    if (!n.endsWith('.onnx') || n.startsWith('.')) continue;
    if (!present.has(`${n}.json`)) {
      errors.push(new PiperVoiceError(join(dir, n), `no config beside it (expected ${n}.json)`));
      continue;
    }
    if (voices.length >= MAX_VOICES) {
      errors.push(new PiperVoiceError(join(dir, n), `more than ${MAX_VOICES} voices in the folder; ignored`));
      continue;
    }
    const seen = known?.get(join(dir, n));
    if (seen) {
      voices.push(seen);
      continue;
    }
    try {
      voices.push(loadVoice(join(dir, n)));
    } catch (err) {
      errors.push(err instanceof PiperVoiceError ? err : new PiperVoiceError(join(dir, n), (err as Error).message));
    }
  }
  return { voices, errors };
}
