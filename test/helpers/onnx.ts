/**
 * A tiny ONNX model with the input/output signature of a Piper voice, written by hand (protobuf wire
 * format) so tests need neither Python nor a downloaded voice.
 *
 *   inputs : input int64 [1, N] (phoneme ids), input_lengths int64 [1], scales float32 [3]
 *            (noise_scale, length_scale, noise_w), optional sid int64 [1]
 *   output : output float32 [1, 1, T] with T = input_lengths[0] × hop × length_scale, a sine of
 *            `frequency` Hz at `sampleRate` (frequency + 110 × sid Hz when the model takes sid), amplitude
 *            `amplitude` (default 0.5).
 *
 * Only the encoder side of protobuf is needed: varints, length-delimited fields and packed repeats.
 * Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ...).
 */

class Pb {
  private readonly parts: Buffer[] = [];

  static varint(n: number | bigint): Buffer {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      out.push(b);
    } while (v > 0n);
    return Buffer.from(out);
  }

  int(field: number, n: number | bigint): this {
    this.parts.push(Pb.varint(field << 3), Pb.varint(n));
    return this;
  }

  bytes(field: number, b: Buffer | Pb): this {
    const body = b instanceof Pb ? b.done() : b;
    this.parts.push(Pb.varint((field << 3) | 2), Pb.varint(body.length), body);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  float(field: number, f: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(f);
    this.parts.push(Pb.varint((field << 3) | 5), b);
    return this;
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, type: typeof FLOAT | typeof INT64, dims: number[], values: number[]): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, type);
  t.str(8, name);
  const raw = Buffer.alloc(values.length * (type === FLOAT ? 4 : 8));
  values.forEach((v, i) => (type === FLOAT ? raw.writeFloatLE(v, i * 4) : raw.writeBigInt64LE(BigInt(v), i * 8)));
  t.bytes(9, raw);
  return t;
}

function valueInfo(name: string, type: number, dims: Array<number | string>): Pb {
  const shape = new Pb();
  for (const d of dims) shape.bytes(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, type).bytes(2, shape);
  return new Pb().str(1, name).bytes(2, new Pb().bytes(1, tensorType));
}

function node(op: string, inputs: string[], outputs: string[], attrs: Pb[] = []): Pb {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  n.str(3, `${op}_${outputs[0]}`);
  n.str(4, op);
  for (const a of attrs) n.bytes(5, a);
  return n;
}

function intAttr(name: string, v: number): Pb {
  return new Pb().str(1, name).int(3, v).int(20, 2); // type INT
}

export interface TinyPiperModelOptions {
  /** Output samples per phoneme id at length_scale 1 (Piper's hop length is 256). Default 256. */
  hop?: number;
  /** Sine frequency, Hz. Default 440. */
  frequency?: number;
  /** Rate the waveform is computed for (the voice's audio.sample_rate). Default 22050. */
  sampleRate?: number;
  /** Peak of the sine. Default 0.5. */
  amplitude?: number;
  /** Declare a `sid` input (multi-speaker voice): frequency + 110 × sid. */
  speakers?: boolean;
  /** Output rank: 3 → [1,1,T] (default), 4 → [1,1,1,T], 2 → [1,T]. */
  outputRank?: 2 | 3 | 4;
  /** Make inference slow (CPU, not memory): this many chained 1024×1024 matrix products that depend on
   * the input (so they cannot be folded into constants) and feed the amplitude by a zero factor. */
  slowMatMuls?: number;
}

/** Bytes of an ONNX ModelProto (IR 8, opset 13) with Piper's inputs and output. */
export function tinyPiperModel(opts: TinyPiperModelOptions = {}): Buffer {
  const hop = opts.hop ?? 256;
  const freq = opts.frequency ?? 440;
  const rate = opts.sampleRate ?? 22050;
  const amp = opts.amplitude ?? 0.5;
  const rank = opts.outputRank ?? 3;
  const outShape = rank === 2 ? [1, -1] : rank === 3 ? [1, 1, -1] : [1, 1, 1, -1];
  const g = new Pb();
  const nodes: Pb[] = [
    node('Cast', ['input_lengths'], ['len_f'], [intAttr('to', FLOAT)]),
    node('Gather', ['scales', 'one_i'], ['length_scale']),
    node('Mul', ['len_f', 'hop'], ['t_hop']),
    node('Mul', ['t_hop', 'length_scale'], ['t_1']),
    node('Reshape', ['t_1', 'scalar_shape'], ['t_scalar']),
    node('Range', ['zero', 't_scalar', 'one'], ['n']),
  ];
  if (opts.speakers) {
    nodes.push(
      node('Cast', ['sid'], ['sid_f'], [intAttr('to', FLOAT)]),
      node('Mul', ['sid_f', 'sid_step'], ['sid_hz']),
      node('Add', ['sid_hz', 'base_hz'], ['hz']),
      node('Mul', ['hz', 'two_pi_over_rate'], ['w']),
    );
  } else {
    nodes.push(node('Mul', ['base_hz', 'two_pi_over_rate'], ['w']));
  }
  let ampName = 'amp';
  if (opts.slowMatMuls) {
    nodes.push(
      node('ConstantOfShape', ['mat_shape'], ['mat_ones'], [new Pb().str(1, 'value').bytes(5, tensor('v', FLOAT, [1], [1e-6])).int(20, 4)]),
      node('Mul', ['mat_ones', 'len_f'], ['m0']),
    );
    for (let i = 0; i < opts.slowMatMuls; i++) nodes.push(node('MatMul', [`m${i}`, 'm0'], [`m${i + 1}`]));
    nodes.push(
      node('ReduceSum', [`m${opts.slowMatMuls}`], ['m_sum'], [intAttr('keepdims', 0)]),
      node('Mul', ['m_sum', 'zero'], ['m_zero']),
      node('Add', ['amp', 'm_zero'], ['amp_slow']),
    );
    ampName = 'amp_slow';
  }
  nodes.push(
    node('Mul', ['n', 'w'], ['phase']),
    node('Sin', ['phase'], ['sine']),
    node('Mul', ['sine', ampName], ['wave']),
    node('Reshape', ['wave', 'out_shape'], ['output']),
  );
  for (const n of nodes) g.bytes(1, n);
  g.str(2, 'tiny-piper');
  const inits = [
    tensor('one_i', INT64, [], [1]),
    tensor('hop', FLOAT, [1], [hop]),
    tensor('scalar_shape', INT64, [0], []),
    tensor('zero', FLOAT, [], [0]),
    tensor('one', FLOAT, [], [1]),
    tensor('base_hz', FLOAT, [1], [freq]),
    ...(opts.speakers ? [tensor('sid_step', FLOAT, [1], [110])] : []),
    ...(opts.slowMatMuls ? [tensor('mat_shape', INT64, [2], [1024, 1024])] : []),
    tensor('two_pi_over_rate', FLOAT, [1], [(2 * Math.PI) / rate]),
    tensor('amp', FLOAT, [1], [amp]),
    tensor('out_shape', INT64, [outShape.length], outShape),
  ];
  for (const t of inits) g.bytes(5, t);
  g.bytes(11, valueInfo('input', INT64, [1, 'phonemes']));
  g.bytes(11, valueInfo('input_lengths', INT64, [1]));
  g.bytes(11, valueInfo('scales', FLOAT, [3]));
  if (opts.speakers) g.bytes(11, valueInfo('sid', INT64, [1]));
  g.bytes(12, valueInfo('output', FLOAT, rank === 2 ? [1, 'time'] : rank === 3 ? [1, 1, 'time'] : [1, 1, 1, 'time']));
  const model = new Pb();
  model.int(1, 8); // ir_version
  model.str(2, 'hookline-test');
  model.bytes(7, g);
  model.bytes(8, new Pb().str(1, '').int(2, 13)); // opset_import: default domain, opset 13
  return model.done();
}

/** A Piper voice config (`.onnx.json`) for the tiny model, with a phoneme map covering espeak's English IPA. */
export function tinyPiperConfig(opts: { sampleRate?: number; espeakVoice?: string; speakers?: number; lengthScale?: number } = {}): Record<string, unknown> {
  const symbols = ['_', '^', '$', ' ', '!', "'", '(', ')', ',', '-', '.', ':', ';', '?'];
  for (let c = 0x61; c <= 0x7a; c++) symbols.push(String.fromCharCode(c));
  symbols.push(...'æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɝɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ');
  symbols.push('\u0303', '\u0329', '\u032a', '\u0327'); // combining marks seen after NFD
  const map: Record<string, number[]> = {};
  symbols.forEach((s, i) => (map[s] = [i]));
  const speakers = opts.speakers ?? 1;
  return {
    audio: { sample_rate: opts.sampleRate ?? 22050, quality: 'x_low' },
    espeak: { voice: opts.espeakVoice ?? 'en-us' },
    inference: { noise_scale: 0.667, length_scale: opts.lengthScale ?? 1, noise_w: 0.8 },
    phoneme_type: 'espeak',
    phoneme_id_map: map,
    num_symbols: symbols.length,
    num_speakers: speakers,
    speaker_id_map: speakers > 1 ? Object.fromEntries(Array.from({ length: speakers }, (_, i) => [`spk${i}`, i])) : {},
    piper_version: '1.0.0',
  };
}
