/**
 * Caller "speech" for the load scenarios: raw A-law (8 kHz, PCMA payload bytes) that SIPp's `rtp_stream` plays in a
 * loop. A voiced signal (120 Hz fundamental with a slow glide, harmonics shaped by three formant peaks) in
 * syllable-rate bursts with pauses, so the RTP carries speech-like levels rather than a constant tone.
 *
 * Why not SIPp's `play_pcap_audio` of g711a.pcap: pcap play sends through a raw UDP socket per playing call, and
 * the kernel copies every UDP packet on the host to every raw UDP socket (`raw_local_deliver`): with hundreds of
 * callers talking, each packet Hookline sent or received cost hundreds of skb clones (perf: 14 % of a media thread's
 * samples in raw_local_deliver). `rtp_stream` sends from SIPp's ordinary media socket.
 */
import { linearToAlaw } from '../../src/media/g711.js';

export const CALLER_AUDIO_FILE = 'caller-speech.alaw';

export function callerSpeech(seconds = 10): Buffer {
  const rate = 8000;
  const out = Buffer.alloc(seconds * rate);
  const formants = [[700, 130], [1220, 110], [2600, 160]] as const;
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    const f0 = 120 + 15 * Math.sin(2 * Math.PI * 0.7 * t);
    // 4 syllables a second, every third one a pause
    const syl = Math.floor(t * 4);
    const env = syl % 3 === 2 ? 0 : Math.sin(Math.PI * ((t * 4) % 1)) ** 2;
    let s = 0;
    for (let h = 1; h * f0 < 3400; h++) {
      const f = h * f0;
      let g = 0;
      for (const [fc, bw] of formants) g += 1 / (1 + ((f - fc) / bw) ** 2);
      s += (g / h) * Math.sin(2 * Math.PI * f * t);
    }
    out[i] = linearToAlaw(Math.round(Math.max(-32767, Math.min(32767, s * env * 6000))));
  }
  return out;
}
