/**
 * Packet capture for end-to-end tests: run tcpdump on the loopback interface and read the UDP datagrams it
 * wrote (classic pcap, Ethernet / Linux cooked / BSD loopback link types). Used where a real peer (SIPp 3.6)
 * cannot tell us what it received.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const canCapture = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).status === 0
  && typeof process.getuid === 'function' && process.getuid() === 0;

export interface UdpDatagram { readonly timeUs: number; readonly srcPort: number; readonly dstPort: number; readonly payload: Buffer }

/** Parse a classic pcap file into its IPv4 UDP datagrams. */
export function readPcapUdp(data: Buffer): UdpDatagram[] {
  const magic = data.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && data.readUInt32BE(0) !== 0xa1b2c3d4 && data.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const nano = (le ? magic : data.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const linkType = u32(20);
  const out: UdpDatagram[] = [];
  let o = 24;
  while (o + 16 <= data.length) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const pkt = data.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    let ip: number;
    if (linkType === 1) ip = pkt.readUInt16BE(12) === 0x0800 ? 14 : -1; // Ethernet
    else if (linkType === 113) ip = pkt.readUInt16BE(14) === 0x0800 ? 16 : -1; // Linux cooked v1
    else if (linkType === 276) ip = pkt.readUInt16BE(0) === 0x0800 ? 20 : -1; // Linux cooked v2
    else if (linkType === 0) ip = 4; // BSD loopback
    else if (linkType === 101) ip = 0; // raw IP
    else throw new Error(`unsupported pcap link type ${linkType}`);
    if (ip < 0 || pkt.length < ip + 28 || (pkt[ip]! >> 4) !== 4 || pkt[ip + 9] !== 17) continue;
    const udp = ip + (pkt[ip]! & 0x0f) * 4;
    const len = pkt.readUInt16BE(udp + 4);
    out.push({
      timeUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
      srcPort: pkt.readUInt16BE(udp),
      dstPort: pkt.readUInt16BE(udp + 2),
      payload: pkt.subarray(udp + 8, udp + Math.min(len, pkt.length - udp)),
    });
  }
  return out;
}

export interface Capture { stop(): Promise<UdpDatagram[]> }

/** Capture UDP on `lo` matching a BPF filter until stop(); resolves once tcpdump is listening. */
export async function captureLoopback(filter: string): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-pcap-'));
  const file = join(dir, 'cap.pcap');
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-U', '-n', '-s', '2048', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) { clearTimeout(t); resolve(); }
    });
    child.once('exit', (c) => { clearTimeout(t); reject(new Error(`tcpdump exited ${c}: ${err}`)); });
  });
  return {
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      try { return readPcapUdp(readFileSync(file)); } finally { rmSync(dir, { recursive: true, force: true }); }
    },
  };
}
