// The console's API checks that hold for every store backend (tests/console-api.test.ts on
// SQLite, tests/console-api-postgres.test.ts on PostgreSQL): the summary, the fleet's paging,
// sort and filter, a device with its rejected codes, its series against the store's readings,
// one frame decoded, and the refused requests.
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import type { Gateway } from '@sceau/host-tools';

export const CONSOLE_TOKEN = `console-api-${randomBytes(12).toString('hex')}`;
export const consoleAuth = { authorization: `Bearer ${CONSOLE_TOKEN}` };

export interface ConsoleFixture {
  gw: Gateway;
  url: string;
  /** The probe device's kid (3 accepted frames, 1 forged, 1 duplicate delivery). */
  kid: string;
  /** A frame of the probe device. */
  frame(counter: number): Uint8Array;
}

const seal = (counter: number, secret: Uint8Array): Uint8Array =>
  sealRecord({ version: 1, counter, time: Math.floor(Date.now() / 1000), readings: [{ channel: 1, value: 2150 }, { channel: 5, value: 3300 }, { channel: 33, value: 2 }] }, secret);

/**
 * Fills a gateway started with CONSOLE_TOKEN: `probe` (frames 1-3, 2 again, a forged 9),
 * `fleet-0`..`fleet-4` (fleet-i: i + 1 accepted frames) and one frame of an unknown key.
 */
export async function fillConsoleFixture(gw: Gateway): Promise<ConsoleFixture> {
  const key = new Uint8Array(randomBytes(32));
  const kid = (await gw.store.registry.register(getPublicKey(key), { name: 'probe' })).device.kid;
  for (let c = 1; c <= 3; c++) await gw.ingest(seal(c, key));
  await gw.ingest(seal(2, key)); // the same counter again: a duplicate delivery, not stored
  const forged = seal(9, key);
  forged[forged.length - 1]! ^= 1;
  await gw.ingest(forged);
  await gw.ingest(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, new Uint8Array(32).fill(7))); // unknown kid
  for (let i = 0; i < 5; i++) {
    const k = new Uint8Array(randomBytes(32));
    await gw.store.registry.register(getPublicKey(k), { name: `fleet-${i}` });
    for (let c = 1; c <= i + 1; c++) await gw.ingest(seal(c, k));
  }
  return { gw, url: gw.addresses.http!.url, kid, frame: (counter) => seal(counter, key) };
}

const get = async (f: ConsoleFixture, path: string): Promise<any> => {
  const res = await fetch(`${f.url}/v1/console/${path}`, { headers: consoleAuth });
  expect(res.status, path).toBe(200);
  return res.json();
};

/** Registers the shared checks inside the caller's describe; `fixture()` is filled by its beforeAll. */
export function consoleApiChecks(fixture: () => ConsoleFixture): void {
  it('answers its API only with the token, and refuses bad requests with their codes', async () => {
    const f = fixture();
    expect((await fetch(`${f.url}/v1/console/summary`)).status).toBe(401);
    expect((await fetch(`${f.url}/v1/console/live`)).status).toBe(401);
    for (const [path, status, code] of [
      ['fleet?sort=battery', 400, 'bad-query'],
      ['fleet?offset=-1', 400, 'bad-query'],
      ['frames/999999', 404, undefined],
      ['devices/nobody', 404, undefined],
    ] as const) {
      const res = await fetch(`${f.url}/v1/console/${path}`, { headers: consoleAuth });
      expect(res.status, path).toBe(status);
      if (code !== undefined) expect(await res.text(), path).toContain(code);
    }
  });

  it('sums the last 24 h in the summary', async () => {
    const summary = await get(fixture(), 'summary');
    expect(summary).toMatchObject({ devices: 6, outcomes24h: { ok: 3 + 15, 'bad-signature': 1, 'unknown-kid': 1 }, health: { store: 'ok', writable: true, duplicates: 1 } });
  });

  it('pages, sorts and filters the fleet', async () => {
    const f = fixture();
    const names: string[] = [];
    for (let offset = 0; offset < 6; offset += 2) {
      const page = await get(f, `fleet?q=fleet&sort=name&limit=2&offset=${offset}`);
      expect(page.total).toBe(5);
      names.push(...page.devices.map((d: { name: string }) => d.name));
    }
    expect(names).toEqual(['fleet-0', 'fleet-1', 'fleet-2', 'fleet-3', 'fleet-4']);
    const byAccepted = await get(f, 'fleet?sort=accepted24h&dir=desc&limit=2');
    expect(byAccepted.total).toBe(6);
    expect(byAccepted.devices.map((d: { name: string; accepted24h: number }) => [d.name, d.accepted24h])).toEqual([['fleet-4', 5], ['fleet-3', 4]]);
    const probe = await get(f, 'fleet?q=prob');
    expect(probe.total).toBe(1);
    expect(probe.devices[0]).toMatchObject({ kid: f.kid, name: 'probe', accepted24h: 3, rejected24h: 1, byCode24h: { 'bad-signature': 1 }, highestCounter: 3, revoked: false });
    expect(Date.now() - probe.devices[0].lastSeen).toBeLessThan(60_000);
    expect(probe.devices[0].lastReadings).toEqual([{ channel: 1, name: 'temperature', value: 21.5, unit: 'Cel' }, { channel: 5, name: 'battery', value: 3.3, unit: 'V' }, { channel: 33, name: 'readings-dropped', value: 2, unit: '' }]);
  });

  it("gives a device's series with every reading the store holds", async () => {
    const f = fixture();
    for (const ref of ['probe', 'fleet-4']) {
      const series = await get(f, `devices/${ref}/series`);
      const stored = await f.gw.store.queryReadings({ kid: series.kid });
      expect(stored.length).toBeGreaterThan(0);
      expect(series.points).toBe(stored.length);
      expect(series.channels.reduce((n: number, c: { t: number[] }) => n + c.t.length, 0)).toBe(stored.length);
    }
  });

  it('gives a device with its window and rejected codes, and one frame decoded', async () => {
    const f = fixture();
    const device = await get(f, 'devices/probe');
    expect(device.highestCounter).toBe(3);
    expect(device.windows).toHaveLength(1);
    expect(device.rejected.map((r: { outcome: string }) => r.outcome)).toEqual(['bad-signature']);
    const frame = await get(f, `frames/${device.rejected[0].id}`);
    expect(frame.outcome).toBe('bad-signature');
    expect(frame.hex).toMatch(/^d28443a10127a10448/);
    expect(frame.diagnostic).toMatch(/^18\(\[<< \{1: -8\} >>/);
    expect(frame.decoded.readings).toEqual([{ name: 'temperature', value: 21.5, unit: 'Cel' }, { name: 'battery', value: 3.3, unit: 'V' }, { name: 'readings-dropped', value: 2, unit: '' }]);
    const codes = await get(f, 'codes');
    expect(JSON.stringify(codes)).toContain('bad-signature');
  });
}
