/**
 * Prompt audio cache: an in-memory LRU bounded by entry count and total bytes, optionally backed by a
 * folder of WAV files (name = key hash; written to a temp name then renamed, so readers never see a
 * partial file). Disk problems are logged and otherwise ignored: the cache is an optimisation.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getLogger } from '../../util/logger.js';
import { readWav, writeWav } from '../wav.js';

const log = getLogger('tts');

export interface PcmCacheOptions {
  /** Most entries kept in memory; default 512. */
  maxEntries?: number;
  /** Most bytes of PCM kept in memory; default 64 MiB (≈ 70 min of 8 kHz PCM16). */
  maxBytes?: number;
  /** Folder for the persistent cache; none by default. */
  dir?: string;
  /** Most bytes of WAV files kept in `dir`; the least recently written/read go first. Default 512 MiB. */
  maxDiskBytes?: number;
  /** Sample rate of the cached audio (used for the WAV header); default 8000. */
  sampleRate?: number;
}

/** Stable file-name-safe key hash. */
export function cacheKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 40);
}

export class PcmCache {
  private readonly map = new Map<string, Int16Array>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly dir: string | undefined;
  private readonly sampleRate: number;
  private dirReady: Promise<void> | undefined;
  private tmpCounter = 0;
  private readonly maxDiskBytes: number;
  /** File name → size, oldest use first; loaded from the folder on first write. */
  private disk: Map<string, number> | undefined;
  private diskBytes = 0;

  constructor(opts: PcmCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 512;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.dir = opts.dir;
    this.sampleRate = opts.sampleRate ?? 8000;
    this.maxDiskBytes = opts.maxDiskBytes ?? 512 * 1024 * 1024;
  }

  /** Bytes of cache files in `dir` as far as this cache knows (after its first write). */
  get diskByteSize(): number {
    return this.diskBytes;
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Memory lookup (marks the entry most recently used). */
  get(key: string): Int16Array | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Memory, then disk (a disk hit is promoted to memory). */
  async load(key: string): Promise<Int16Array | undefined> {
    const hit = this.get(key);
    if (hit || !this.dir) return hit;
    try {
      const wav = readWav(await readFile(this.file(key)));
      if (wav.sampleRate !== this.sampleRate) return undefined;
      this.touchDisk(key);
      this.remember(key, wav.pcm);
      return wav.pcm;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err }, 'TTS disk cache read failed');
      return undefined;
    }
  }

  /** Store in memory and (without waiting) on disk. */
  set(key: string, pcm: Int16Array): void {
    this.remember(key, pcm);
    if (this.dir) void this.persist(key, pcm);
  }

  /** Wait for pending disk writes started by set() (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  private readonly writes = new Set<Promise<void>>();

  private remember(key: string, pcm: Int16Array): void {
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.byteLength;
      this.map.delete(key);
    }
    if (pcm.byteLength > this.maxBytes) return; // would evict everything
    this.map.set(key, pcm);
    this.bytes += pcm.byteLength;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value as string;
      this.bytes -= this.map.get(oldest)!.byteLength;
      this.map.delete(oldest);
    }
  }

  private async loadDiskIndex(): Promise<void> {
    if (this.disk) return;
    const index = new Map<string, number>();
    this.disk = index;
    const found: Array<{ name: string; size: number; mtime: number }> = [];
    for (const name of await readdir(this.dir!)) {
      if (!/^[0-9a-f]{40}\.wav$/.test(name)) continue; // only our files
      try {
        const st = await stat(join(this.dir!, name));
        found.push({ name, size: st.size, mtime: st.mtimeMs });
      } catch {
        // vanished meanwhile
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) this.noteDisk(f.name, f.size);
  }

  private noteDisk(name: string, size: number): void {
    const index = this.disk!;
    const old = index.get(name);
    if (old !== undefined) {
      this.diskBytes -= old;
      index.delete(name);
    }
    index.set(name, size);
    this.diskBytes += size;
  }

  private touchDisk(key: string): void {
    const name = `${cacheKeyHash(key)}.wav`;
    const size = this.disk?.get(name);
    if (size !== undefined) this.noteDisk(name, size);
  }

  private async pruneDisk(): Promise<void> {
    const index = this.disk!;
    while (this.diskBytes > this.maxDiskBytes && index.size > 1) {
      const [name, size] = index.entries().next().value as [string, number];
      index.delete(name);
      this.diskBytes -= size;
      await unlink(join(this.dir!, name)).catch(() => undefined);
    }
  }

  private file(key: string): string {
    return join(this.dir!, `${cacheKeyHash(key)}.wav`);
  }

  private persist(key: string, pcm: Int16Array): Promise<void> {
    const p = (async () => {
      const target = this.file(key);
      const tmp = `${target}.${process.pid}.${this.tmpCounter++}.tmp`;
      try {
        this.dirReady ??= mkdir(this.dir!, { recursive: true }).then(() => undefined);
        await this.dirReady;
        await this.loadDiskIndex();
        const bytes = writeWav(pcm, this.sampleRate);
        await writeFile(tmp, bytes);
        await rename(tmp, target);
        this.noteDisk(`${cacheKeyHash(key)}.wav`, bytes.length);
        await this.pruneDisk();
      } catch (err) {
        this.dirReady = undefined;
        log.warn({ err }, 'TTS disk cache write failed');
        await unlink(tmp).catch(() => undefined);
      }
    })();
    this.writes.add(p);
    void p.finally(() => this.writes.delete(p));
    return p;
  }
}
