// End to end: the firmware in the DeviceScript VM, with its simulated sensor and the TCP link,
// sends frames to a local listener (the gateway's TCP framing: 2-byte big-endian length, then the
// datagram) that verifies them with @sceau/protocol. The listener starts 2 s late, so the first
// batches wait in the firmware's store-and-forward queue and arrive merged, with their ages.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fromHex, MemoryKeyring, Reassembler, verifyFrame } from '@sceau/protocol';
import { describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { startVm } from '../firmware/scripts/devs-vm.mjs';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('firmware over TCP to a verifying listener', () => {
  it('delivers verified frames, queued while the listener was down', async () => {
    const port = await freePort();
    const { binary } = buildEntry('src/main.ts', {
      'src/config.ts': configSource({
        SAMPLE_INTERVAL_MS: 200, BATCH_SIZE: 1, COUNTER_BLOCK: 4, LINK: 'tcp', TCP_PORT: port, QUEUE_MAX: 4, LINK_MTU: 120,
      }),
    });
    const keyring = new MemoryKeyring();
    const reassembler = new Reassembler();
    const accepted: { counter: number; readings: { channel: number; value: number; age?: number }[] }[] = [];
    const rejected: string[] = [];
    let publicKey = '';
    let inst: any;
    const lines: string[] = [];
    let onFrame = () => {};
    const enough = new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`too few frames: ${accepted.length}; ${lines.join('\n')}`)), 40_000);
      onFrame = () => {
        if (accepted.length >= 4) {
          clearTimeout(guard);
          resolve();
        }
      };
    });
    let server: Server | undefined;
    const sockets = new Set<import('node:net').Socket>();
    const startServer = () => {
      server = createServer((sock) => {
        sockets.add(sock);
        let buf = Buffer.alloc(0);
        sock.on('data', (chunk) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const n = buf.readUInt16BE(0);
            const d = new Uint8Array(buf.subarray(2, 2 + n));
            buf = buf.subarray(2 + n);
            const pushed = reassembler.push(d, Date.now(), 'tcp');
            if (pushed.kind !== 'frame') continue;
            const r = verifyFrame(pushed.frame, keyring);
            if (r.ok) accepted.push({ counter: r.counter, readings: r.readings });
            else rejected.push(r.code);
            onFrame();
          }
        });
      });
      server.listen(port, '127.0.0.1');
    };
    startVm(binary, {
      onLine: (s: string) => {
        for (const line of String(s).split('\n')) {
          if (!line.startsWith('> ')) continue;
          lines.push(line.slice(2));
          const m = /^sceau-key v1 kid=[0-9a-f]{16} pub=([0-9a-f]{64})/.exec(line.slice(2));
          if (m && !publicKey) {
            publicKey = m[1]!;
            keyring.add(fromHex(publicKey));
            // the link is down for the first 2 s: about 10 samplings wait in a 4-batch queue
            setTimeout(startServer, 2000);
          }
        }
      },
    }).then((i: any) => { inst = i; });
    try {
      await enough;
    } finally {
      inst?.devsStop();
      for (const s of sockets) s.destroy(); // the stopped VM never closes its socket
      await new Promise<void>(r => (server ? server.close(() => r()) : r()));
    }
    expect(rejected).toEqual([]);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!.counter).toBeGreaterThan(accepted[i - 1]!.counter);
    // the first delivered record holds the boot reading and merged, aged readings from the outage
    const first = accepted[0]!;
    expect(first.readings.some(r => r.channel === 32 && r.value === 1)).toBe(true);
    expect(first.readings.filter(r => r.channel === 1).length).toBeGreaterThan(1);
    expect(Math.max(...first.readings.map(r => r.age ?? 0))).toBeGreaterThanOrEqual(1);
    // when the queue had to drop, the count arrives on channel 33
    const reportedDrops = accepted.flatMap(a => a.readings).filter(r => r.channel === 33);
    for (const r of reportedDrops) expect(r.value).toBeGreaterThan(0);
  }, 60_000);
});
