/** Piper neural voices: public surface. */
export { PiperEngine, PIPER_INSTALL_HINT, missingPiperPackages, type PiperEngineOptions, type PiperVoiceInfo } from './engine.js';
export { scanVoices, loadVoice, parseVoiceConfig, PiperVoiceError, MAX_VOICES, type PiperVoice, type VoiceScan } from './voice.js';
export { phonemesToIds, ipaPhonemes, splitClauses, sentencePhonemes, textPhonemes, type PhonemeIdMap, type Clause } from './phonemes.js';
