// A transport added through the registry alone: one definition, one registerTransport call, and
// startGateway starts it with the shared datagram intake (reassemble, count, submit), reports its
// address and stops it on close. It feeds the real pipeline and SQLite store.
import { afterEach, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, linkProfiles, sealRecord } from '@sceau/protocol';
import { registeredTransports, registerTransport, startGateway, unregisterTransport } from '@sceau/host-tools';
import { fakeTransport } from './helpers/fake-transport.js';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = new Uint8Array(32).fill(0x71);

afterEach(() => {
  unregisterTransport('fake');
});

describe('the transport registry', () => {
  it('lists the built-in transports, refuses a name twice', () => {
    expect(registeredTransports().map((t) => t.name)).toEqual(['http', 'tcp', 'udp', 'mqtt']);
    const { definition } = fakeTransport('fake');
    registerTransport(definition);
    expect(() => registerTransport(definition)).toThrow(RangeError);
  });

  it('starts a transport registered from outside, feeds the pipeline through the shared intake, stops it on close', async () => {
    const fake = fakeTransport('fake');
    registerTransport(fake.definition);
    const gw = await startGateway({ db: ':memory:', fake: true, log: () => undefined } as Parameters<typeof startGateway>[0]);
    try {
      expect(gw.addresses.fake).toEqual({ host: 'fake', port: 0 });
      expect(gw.addresses.http).toBeUndefined(); // not asked for
      sqliteStore(gw).addDevice(getPublicKey(seed));
      fake.send(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, seed));
      // A frame in LoRaWAN DR0 fragments: reassembled by the gateway's named reassembler.
      const big = sealRecord({ version: 1, counter: 2, time: null, readings: Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: i, age: 60 * (i + 1) })) }, seed, { kid: true });
      const parts = fragment(big, linkProfiles['lorawan-eu868-dr0']!);
      expect(parts.length).toBeGreaterThan(1);
      for (const p of parts) fake.send(p);
      await gw.drain();
      expect((await gw.store.queryFrames({ outcome: 'ok' })).map((f) => [f.counter, f.source])).toEqual([[1, 'fake:device-1'], [2, 'fake:device-1']]);
      expect(gw.renderMetrics()).toMatch(/^sceau_frames_total\{outcome="ok",transport="fake"\} 2$/m);
      expect(gw.metrics.fragments.get('reassembled')).toBe(1);
    } finally {
      await gw.close();
    }
    expect(fake.stopped()).toBe(true);
  });
});
