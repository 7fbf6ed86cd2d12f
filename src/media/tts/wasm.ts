/**
 * The WebAssembly global, typed. The project compiles against lib ES2022 without DOM, where the
 * WebAssembly namespace is not declared; these are the few members the TTS code uses.
 */
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}

export const wasm: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** WebAssembly section id of custom sections (names, producers, debug info): never needed to run. */
const CUSTOM_SECTION = 0;

/**
 * Drop the custom sections of a WebAssembly binary, in place: the kept sections move down and the result
 * is a view of the same buffer. V8 keeps a module's whole wire bytes for as long as the module lives, so
 * for flite.wasm (21.5 MB, of which 4.4 MB are name/debug sections) this saves 4.4 MB per compiled module.
 * A binary it cannot walk (bad magic, truncated section) is returned unchanged for the compiler to judge.
 */
export function stripCustomSections(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return bytes;
  // First pass: check every section header is inside the buffer before moving anything.
  const sections: Array<{ start: number; end: number; id: number }> = [];
  let i = 8;
  while (i < bytes.length) {
    const start = i;
    const id = bytes[i++]!;
    let size = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length || shift > 28) return bytes;
      const b = bytes[i++]!;
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const end = i + size;
    if (end > bytes.length) return bytes;
    sections.push({ start, end, id });
    i = end;
  }
  let out = 8;
  for (const s of sections) {
    if (s.id === CUSTOM_SECTION) continue;
    if (s.start !== out) bytes.copyWithin(out, s.start, s.end);
    out += s.end - s.start;
  }
  return bytes.subarray(0, out);
}
