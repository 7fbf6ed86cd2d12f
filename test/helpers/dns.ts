/**
 * A tiny authoritative DNS server on 127.0.0.1 for tests (UDP, one question per query): A, AAAA and SRV records
 * from a table; other names get NXDOMAIN. Counts the queries it answered.
 */
import dgram from 'node:dgram';

export interface DnsRecords {
  a?: Record<string, string[]>;
  srv?: Record<string, Array<{ priority: number; weight: number; port: number; target: string }>>;
}

export interface DnsServer { readonly address: string; readonly queries: string[]; close(): Promise<void> }

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function readName(b: Buffer, off: number): { name: string; end: number } {
  const labels: string[] = [];
  let o = off;
  while (b[o]! !== 0) { const n = b[o]!; labels.push(b.toString('ascii', o + 1, o + 1 + n)); o += 1 + n; }
  return { name: labels.join('.').toLowerCase(), end: o + 1 };
}

export async function startDnsServer(records: DnsRecords): Promise<DnsServer> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    queries.push(`${qtype === 33 ? 'SRV' : qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : String(qtype)} ${name}`);
    const question = msg.subarray(12, end + 4);
    const answers: Buffer[] = [];
    const known = (records.a?.[name] !== undefined) || (records.srv?.[name] !== undefined);
    const rr = (type: number, rdata: Buffer): Buffer => {
      const h = Buffer.alloc(12);
      h.writeUInt16BE(0xc00c, 0); h.writeUInt16BE(type, 2); h.writeUInt16BE(1, 4); h.writeUInt32BE(60, 6); h.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([h, rdata]);
    };
    if (qtype === 1) for (const a of records.a?.[name] ?? []) answers.push(rr(1, Buffer.from(a.split('.').map(Number))));
    if (qtype === 33) {
      for (const s of records.srv?.[name] ?? []) {
        const head = Buffer.alloc(6);
        head.writeUInt16BE(s.priority, 0); head.writeUInt16BE(s.weight, 2); head.writeUInt16BE(s.port, 4);
        answers.push(rr(33, Buffer.concat([head, encodeName(s.target)])));
      }
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2); // QR, AA, RD copied, NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
