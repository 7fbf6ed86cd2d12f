/** Public surface of the TTS subsystem. */
export { TtsService, TTS_OUTPUT_RATE, normalizePeak, type TtsServiceOptions, type SayOptions } from './service.js';
export { FliteEngine, FLITE_VOICES, type FliteEngineOptions } from './flite-engine.js';
export { TtsError, type TtsErrorCode } from './errors.js';
export type { TtsEngine, TtsAudio } from './types.js';
export { splitSentences, mapVoice, isEnglish, cleanText, KAZOO_VOICES } from './text.js';
export { PcmCache, cacheKeyHash, type PcmCacheOptions } from './cache.js';
export { PiperEngine, PIPER_INSTALL_HINT, scanVoices, PiperVoiceError, type PiperEngineOptions, type PiperVoiceInfo } from './piper/index.js';
