/**
 * The SIP UDP socket's buffers: a burst that arrives while the main thread is busy (a GC pause, a slow
 * callback) waits in the kernel instead of being dropped. Real sockets on 127.0.0.1; Linux figures.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../../src/util/logger.js';
import { UdpTransport, DEFAULT_SOCKET_BUFFER_BYTES } from '../../src/sip/transport/udp.js';

const linux = process.platform === 'linux';
const sysctl = (name: string): number => Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());

t.test('buffers are sized up to what the kernel allows; 0 keeps the default', { skip: !linux && 'Linux socket figures' }, async (tt) => {
  const sized = await UdpTransport.create({ address: '127.0.0.1', port: 0, logger: silentLogger });
  const plain = await UdpTransport.create({ address: '127.0.0.1', port: 0, logger: silentLogger, socketBufferBytes: 0 });
  tt.teardown(async () => { await sized.close(); await plain.close(); });
  // Linux reports twice the bytes asked for (the other half is its bookkeeping)
  tt.equal(sized.recvBufferBytes, 2 * Math.min(DEFAULT_SOCKET_BUFFER_BYTES, sysctl('rmem_max')));
  tt.equal(plain.recvBufferBytes, sysctl('rmem_default'));
});

const bigEnough = linux && sysctl('rmem_max') >= 2 * 1024 * 1024;
t.test('a 1,000-datagram burst while the event loop is blocked is received whole', { skip: !bigEnough && 'needs Linux with net.core.rmem_max ≥ 2 MiB' }, async (tt) => {
  const u = await UdpTransport.create({ address: '127.0.0.1', port: 0, logger: silentLogger });
  tt.teardown(() => u.close());
  const N = 1000;
  let got = 0;
  u.receiver = () => { got++; };
  // a SIP-sized datagram (about 900 bytes), sent N times from another thread while this one spins
  const msg = `OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-burst\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: burst\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Pad: ${'p'.repeat(700)}\r\nContent-Length: 0\r\n\r\n`;
  // flags[0]: 1 = go (set by this thread); flags[1]: 1 = all sent (set by the sender)
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const sender = new Worker(`
    const dgram = require('node:dgram');
    const { parentPort, workerData } = require('node:worker_threads');
    const flags = new Int32Array(workerData.sab);
    const s = dgram.createSocket('udp4');
    const buf = Buffer.from(workerData.msg);
    let left = workerData.n;
    const next = () => {
      if (left-- > 0) { s.send(buf, workerData.port, '127.0.0.1', next); return; }
      s.close();
      Atomics.store(flags, 1, 1);
      Atomics.notify(flags, 1);
    };
    parentPort.postMessage('ready');
    Atomics.wait(flags, 0, 0, 5000);
    next();`, { eval: true, workerData: { msg, n: N, port: u.port, sab: flags.buffer } });
  tt.teardown(() => sender.terminate());
  await new Promise<void>((r) => sender.once('message', () => r()));
  // go, and block this thread until the sender has sent everything, as a long GC pause would
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  tt.equal(Atomics.wait(flags, 1, 0, 5000), 'ok', 'the burst was sent while this thread was blocked');
  const deadline = Date.now() + 2000;
  while (got < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  tt.equal(got, N, 'every datagram of the burst was received');
});
