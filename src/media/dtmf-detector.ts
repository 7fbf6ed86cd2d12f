/**
 * In-band DTMF detection (ITU-T Q.23/Q.24 tones) by streaming Goertzel filters.
 *
 * Audio is cut into blocks of ~12.75 ms (102 samples at 8 kHz, scaled with the sample rate). Each block
 * is tested for one row tone (697/770/852/941 Hz) plus one column tone (1209/1336/1477/1633 Hz):
 *   - both tones above an absolute level (per-tone amplitude),
 *   - twist: the column (high group) may exceed the row by NORMAL_TWIST_DB, the row may exceed the
 *     column by REVERSE_TWIST_DB,
 *   - each tone dominates the other tones of its group by RELATIVE_PEAK_DB,
 *   - the two tones carry most of the block's energy (other sounds / speech rejected),
 *   - the column tone's second harmonic is weak (voiced speech is rich in harmonics, DTMF is not).
 * A key is reported once when the same key is seen in two consecutive blocks (≥ 25 ms, so any tone of
 * 40 ms is caught); it must then disappear for two consecutive blocks before it can be reported again.
 *
 * process() allocates nothing: the block buffer and filter state are preallocated.
 */
import { getLogger } from '../util/logger.js';

const log = getLogger('dtmf');

const ROW_FREQS = [697, 770, 852, 941] as const;
const COL_FREQS = [1209, 1336, 1477, 1633] as const;
const KEYS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;

/** Block length at 8 kHz; the filter bandwidth (~78 Hz) puts neighbouring DTMF tones near the first null. */
const BLOCK_AT_8K = 102;
/** Minimum amplitude of each tone (of 32768): about -40 dBFS, well below Q.24's -25 dBm0 acceptance. */
const MIN_TONE_AMPLITUDE = 330;
/** Column tone may be this much louder than the row tone. */
const NORMAL_TWIST_DB = 8;
/** Row tone may be this much louder than the column tone. */
const REVERSE_TWIST_DB = 6;
/** The winning tone of a group must beat every other tone of the group by this much. */
const RELATIVE_PEAK_DB = 8;
/** Row + column energy must be at least this fraction of the block's total energy. */
const MIN_TONE_TO_TOTAL = 0.6;
/** The column tone's second harmonic must be this far below the column tone. */
const MAX_SECOND_HARMONIC_DB = -12;

const dbToPower = (db: number): number => Math.pow(10, db / 10);

export class DtmfDetector {
  private readonly blockSize: number;
  private readonly block: Float64Array;
  private fill = 0;
  private readonly rowCoeff = new Float64Array(4);
  private readonly colCoeff = new Float64Array(4);
  private readonly harmCoeff = new Float64Array(4);
  private readonly rowEnergy = new Float64Array(4);
  private readonly colEnergy = new Float64Array(4);
  private readonly minToneEnergy: number;
  private readonly normalTwist = dbToPower(NORMAL_TWIST_DB);
  private readonly reverseTwist = dbToPower(REVERSE_TWIST_DB);
  private readonly relativePeak = dbToPower(RELATIVE_PEAK_DB);
  private readonly maxHarmonic = dbToPower(MAX_SECOND_HARMONIC_DB);
  /** Key index seen in the previous block, -1 for none. */
  private lastHit = -1;
  /** Key index currently held down (already reported), -1 for none. */
  private current = -1;

  constructor(sampleRate = 8000) {
    if (!(sampleRate >= 4000 && sampleRate <= 192000)) throw new RangeError(`DtmfDetector: bad sample rate ${sampleRate}`);
    this.blockSize = Math.round((BLOCK_AT_8K * sampleRate) / 8000);
    this.block = new Float64Array(this.blockSize);
    for (let i = 0; i < 4; i++) {
      this.rowCoeff[i] = 2 * Math.cos((2 * Math.PI * ROW_FREQS[i]!) / sampleRate);
      this.colCoeff[i] = 2 * Math.cos((2 * Math.PI * COL_FREQS[i]!) / sampleRate);
      this.harmCoeff[i] = 2 * Math.cos((2 * Math.PI * 2 * COL_FREQS[i]!) / sampleRate);
    }
    // Energy scale used below: 2·|X|²/N ≈ N·A²/2, the energy of a sinusoid of amplitude A over the block.
    this.minToneEnergy = (this.blockSize * MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE) / 2;
  }

  /** Feed PCM16 samples; `onDigit` is called synchronously for each newly pressed key ('0'-'9', '*', '#', 'A'-'D'). */
  process(samples: Int16Array, onDigit: (digit: string) => void): void {
    const n = samples.length;
    const block = this.block;
    const size = this.blockSize;
    let fill = this.fill;
    for (let i = 0; i < n; i++) {
      block[fill++] = samples[i]!;
      if (fill === size) {
        fill = 0;
        this.endBlock(onDigit);
      }
    }
    this.fill = fill;
  }

  /** Forget any partial block and held key. */
  reset(): void {
    this.fill = 0;
    this.lastHit = -1;
    this.current = -1;
  }

  private goertzel(coeff: number): number {
    const block = this.block;
    const n = this.blockSize;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const s0 = block[i]! + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    return (2 * power) / n;
  }

  private classify(): number {
    const block = this.block;
    const n = this.blockSize;
    let total = 0;
    for (let i = 0; i < n; i++) total += block[i]! * block[i]!;
    if (total < 2 * this.minToneEnergy) return -1;

    let bestRow = 0;
    let bestCol = 0;
    for (let i = 0; i < 4; i++) {
      this.rowEnergy[i] = this.goertzel(this.rowCoeff[i]!);
      this.colEnergy[i] = this.goertzel(this.colCoeff[i]!);
      if (this.rowEnergy[i]! > this.rowEnergy[bestRow]!) bestRow = i;
      if (this.colEnergy[i]! > this.colEnergy[bestCol]!) bestCol = i;
    }
    const row = this.rowEnergy[bestRow]!;
    const col = this.colEnergy[bestCol]!;
    if (row < this.minToneEnergy || col < this.minToneEnergy) return -1;
    if (col > row * this.normalTwist || row > col * this.reverseTwist) return -1;
    for (let i = 0; i < 4; i++) {
      if (i !== bestRow && this.rowEnergy[i]! * this.relativePeak > row) return -1;
      if (i !== bestCol && this.colEnergy[i]! * this.relativePeak > col) return -1;
    }
    if (row + col < MIN_TONE_TO_TOTAL * total) return -1;
    if (this.goertzel(this.harmCoeff[bestCol]!) > col * this.maxHarmonic) return -1;
    return bestRow * 4 + bestCol;
  }

  private endBlock(onDigit: (digit: string) => void): void {
    const hit = this.classify();
    if (hit === this.lastHit && hit !== this.current) {
      // Two consecutive blocks agree on a new state: a key went down (or up, when hit is -1).
      this.current = hit;
      if (hit >= 0) {
        try {
          onDigit(KEYS[hit]!);
        } catch (err) {
          // A listener's exception must not corrupt the detector's state.
          log.warn({ err }, 'DTMF digit listener threw');
        }
      }
    }
    this.lastHit = hit;
  }
}
