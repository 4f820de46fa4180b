// A store backend and a transport added through their registries alone (one registration call
// each, nothing else edited): startGateway opens the store by its URL scheme, starts the
// transport, and frames ingested through it are verified, stored, answered as duplicates, and read
// back through the gateway's HTTP API (registration and read routes), all on a store with no SQLite.
import { afterEach, describe, expect, it } from 'vitest';
import { getPublicKey, sealRecord, toHex } from '@sceau/protocol';
import { openStore, registerStoreBackend, registerTransport, startGateway, StoreError, unregisterStoreBackend, unregisterTransport, type Device } from '@sceau/host-tools';
import { fakeTransport } from './helpers/fake-transport.js';
import { MemoryStore } from './helpers/memory-store.js';

const opened: MemoryStore[] = [];
const queue = fakeTransport('queue');

afterEach(() => {
  unregisterStoreBackend('memory');
  unregisterTransport('queue');
  opened.length = 0;
});

const seed = new Uint8Array(32).fill(0x5a);
const frame = (counter: number, value = 1): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value }] }, seed);

describe('the store and transport registries', () => {
  it('refuses a scheme twice and a second backend of file paths; an unknown scheme is a StoreError', async () => {
    registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async (location) => new MemoryStore(location) });
    expect(() => registerStoreBackend({ name: 'memory-2', schemes: ['memory'], open: async (location) => new MemoryStore(location) })).toThrow(RangeError);
    expect(() => registerStoreBackend({ name: 'files-2', open: async (location) => new MemoryStore(location) })).toThrow(/already opens file paths/);
    await expect(openStore('nosuch://x', 'readonly')).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'store-backend-unknown');
  });

  it('ingests through a registered transport into a registered store, and the HTTP API reads it back', async () => {
    registerStoreBackend({
      name: 'memory',
      schemes: ['memory'],
      open: async (location) => {
        const store = new MemoryStore(location);
        opened.push(store);
        return store;
      },
    });
    registerTransport(queue.definition);
    const gw = await startGateway({ db: 'memory://fleet', queue: true, http: '127.0.0.1:0', log: () => undefined } as Parameters<typeof startGateway>[0]);
    const store = opened[0]!;
    try {
      expect(store.location).toBe('memory://fleet');
      expect(gw.store).toBe(store);
      expect(gw.addresses.queue).toEqual({ host: 'queue', port: 0 });
      const base = gw.addresses.http!.url;
      // Registration through the gateway's API lands in the backend's registry.
      const reg = await fetch(`${base}/v1/devices`, { method: 'POST', body: JSON.stringify({ publicKey: toHex(getPublicKey(seed)), name: 'meter' }), headers: { 'content-type': 'application/json' } });
      expect(reg.status).toBe(201);
      expect(store.devices.map((d) => d.name)).toEqual(['meter']);

      expect(await queue.deliver(frame(1))).toMatchObject({ code: 'ok', delivery: 'new', id: 1 });
      expect(await queue.deliver(frame(1))).toMatchObject({ code: 'ok', delivery: 'duplicate', id: 1 }); // the same bytes again
      expect(await queue.deliver(frame(1, 7))).toMatchObject({ code: 'replay', delivery: 'new', id: 2 }); // other bytes, same counter
      expect(store.rows.map((r) => [r.counter, r.outcome, r.source])).toEqual([[1, 'ok', 'queue:device-1'], [1, 'replay', 'queue:device-1']]);

      const frames = (await (await fetch(`${base}/v1/frames?kid=meter`)).json()) as { frames: Array<{ outcome: string }> };
      expect(frames.frames.map((f) => f.outcome)).toEqual(['ok', 'replay']);
      const devices = (await (await fetch(`${base}/v1/devices`)).json()) as { devices: Device[] };
      expect(devices.devices.map((d) => d.name)).toEqual(['meter']);
      expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ ok: true });
    } finally {
      await gw.close();
    }
    expect(queue.stopped()).toBe(true);
    expect(store.closed).toBe(true); // opened by the gateway, so closed by it
  });
});
