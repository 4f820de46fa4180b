// A transport added through the registry alone: one definition, one registerTransport call, and
// startGateway starts it with the shared datagram intake (reassemble, count, submit), reports its
// address and stops it on close. It feeds the real pipeline and SQLite store.
import { afterEach, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, linkProfiles, sealRecord } from '@sceau/protocol';
import { registeredTransports, registerTransport, startGateway, unregisterTransport, type DatagramIntake, type TransportDefinition } from '@sceau/host-tools';

const seed = new Uint8Array(32).fill(0x71);

/** A transport that takes datagrams from a function call, as a message queue would from a broker. */
function fakeTransport(): { definition: TransportDefinition; send: (d: Uint8Array) => void; stopped: () => boolean } {
  let intake: DatagramIntake | undefined;
  let stopped = false;
  const definition: TransportDefinition = {
    name: 'fake',
    wanted: (options) => (options as { fake?: boolean }).fake === true,
    async start(context) {
      intake = context.intake;
      return { address: { host: 'queue', port: 0 }, stop: async () => void (stopped = true) };
    },
  };
  return { definition, send: (d) => intake!(d, { hinted: false, key: 'fake:device-1', origin: 'fake', ingest: { source: 'fake:device-1' } }, () => undefined), stopped: () => stopped };
}

afterEach(() => {
  unregisterTransport('fake');
});

describe('the transport registry', () => {
  it('lists the built-in transports, refuses a name twice', () => {
    expect(registeredTransports().map((t) => t.name)).toEqual(['http', 'tcp', 'udp']);
    const { definition } = fakeTransport();
    registerTransport(definition);
    expect(() => registerTransport(definition)).toThrow(RangeError);
  });

  it('starts a transport registered from outside, feeds the pipeline through the shared intake, stops it on close', async () => {
    const fake = fakeTransport();
    registerTransport(fake.definition);
    const gw = await startGateway({ db: ':memory:', fake: true, log: () => undefined } as Parameters<typeof startGateway>[0]);
    try {
      expect(gw.addresses.fake).toEqual({ host: 'queue', port: 0 });
      expect(gw.addresses.http).toBeUndefined(); // not asked for
      gw.store.addDevice(getPublicKey(seed));
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
