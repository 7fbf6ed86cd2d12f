/**
 * Prompt registry between the TTS cache (PCM16 buffers) and the media engine (PromptRefs shared with the
 * workers). The same cached PCM buffer maps to the same PromptRef, so a popular prompt is copied into shared
 * memory once, not per call. Bounded: idle refs beyond `maxIdle` are released (least recently used first).
 */
import type { MediaEngine, PromptRef } from '../rtp/media-engine.js';

interface Entry { ref: PromptRef; users: number; pcm: Int16Array }

export class PromptRegistry {
  private readonly byPcm = new WeakMap<Int16Array, Entry>();
  /** Entries with no user, oldest first (Map keeps insertion order). */
  private readonly idle = new Map<number, Entry>();
  private live = 0;

  constructor(private readonly engine: MediaEngine, private readonly maxIdle = 256) {}

  /** A ref for this PCM buffer; pair every acquire with one release. */
  acquire(pcm: Int16Array): PromptRef {
    let e = this.byPcm.get(pcm);
    if (!e) {
      e = { ref: this.engine.registerPrompt(pcm), users: 0, pcm };
      this.byPcm.set(pcm, e);
      this.live++;
    }
    if (e.users === 0) this.idle.delete(e.ref.id);
    e.users++;
    return e.ref;
  }

  release(pcm: Int16Array): void {
    const e = this.byPcm.get(pcm);
    if (!e || e.users === 0) return;
    e.users--;
    if (e.users === 0) {
      this.idle.set(e.ref.id, e);
      while (this.idle.size > this.maxIdle) {
        const [id, old] = this.idle.entries().next().value as [number, Entry];
        this.idle.delete(id);
        this.drop(old);
      }
    }
  }

  /** Refs registered with the engine (in use or idle). */
  get size(): number { return this.live; }
  get inUse(): number { return this.live - this.idle.size; }

  /** Release every idle ref. */
  clear(): void {
    for (const e of this.idle.values()) this.drop(e);
    this.idle.clear();
  }

  private drop(e: Entry): void {
    this.byPcm.delete(e.pcm);
    this.engine.releasePrompt(e.ref);
    this.live--;
  }
}
