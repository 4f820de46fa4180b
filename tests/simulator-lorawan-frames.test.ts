// The simulator's host-side LoRaWAN 1.0.x frame coding (simulator/src/lorawan-frames.ts) against
// every published vector of protocol/vectors/lorawan.json and every random case of
// tests/helpers/lorawan-cases.ts: the same items, with the same expected results, that the firmware
// runs in the DeviceScript VM (tests/firmware-lorawan.test.ts; schema in
// firmware/scripts/lorawan-vectors.mjs checkItem), so both sides are pinned by the same vectors.
// Then a differential check against the independent reference (tests/helpers/lorawan-reference.ts)
// with fast-check, and the refusals of untrusted input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '@sceau/protocol';
import {
  aesCmac,
  aesEncryptBlock,
  cryptFrmPayload,
  dataMic,
  deriveSessionKeys10,
  encodeJoinRequest,
  encodeUplink,
  openDownlink,
  openJoinAccept,
  peekDownlinkFCnt,
} from '@sceau/simulator';
import * as ref from './helpers/lorawan-reference.js';
import { lorawanCases } from './helpers/lorawan-cases.js';

type Item = Record<string, unknown> & { op: string };
const published = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'protocol', 'vectors', 'lorawan.json'), 'utf8')).vectors as {
  name: string;
  input: Item;
  expected: Record<string, unknown>;
}[];

const h = (v: unknown): Uint8Array => fromHex(v as string);
const n = (v: unknown): number => parseInt(v as string, 16);

/** One item of the lorawan-vectors schema, run through the simulator's functions; output in the schema's shape. */
function run(c: Item): Record<string, unknown> {
  switch (c.op) {
    case 'aes':
      return { ciphertext: toHex(aesEncryptBlock(h(c.key), h(c.plaintext))) };
    case 'cmac':
      return { mac: toHex(aesCmac(h(c.key), h(c.message))) };
    case 'session-keys': {
      const k = deriveSessionKeys10(h(c.appKey), n(c.joinNonce), n(c.netId), n(c.devNonce));
      return { nwkSKey: toHex(k.nwkSKey), appSKey: toHex(k.appSKey) };
    }
    case 'join-request':
      return { phyPayload: toHex(encodeJoinRequest({ appKey: h(c.appKey), joinEui: h(c.joinEui), devEui: h(c.devEui), devNonce: n(c.devNonce) })) };
    case 'join-accept': {
      const r = openJoinAccept(h(c.appKey), n(c.devNonce), h(c.phyPayload));
      if (!r.ok) return { ok: false, code: r.code };
      const hex6 = (x: number) => x.toString(16).padStart(6, '0');
      return {
        ok: true, joinNonce: hex6(r.joinNonce), netId: hex6(r.netId), devAddr: toHex(r.devAddr), dlSettings: r.dlSettings, rxDelay: r.rxDelay,
        cfList: r.cfList === null ? null : toHex(r.cfList), nwkSKey: toHex(r.nwkSKey), appSKey: toHex(r.appSKey),
      };
    }
    case 'frm-payload':
      return { payload: toHex(cryptFrmPayload(h(c.key), c.dir as 'up' | 'down', h(c.devAddr), c.fCnt as number, h(c.payload))) };
    case 'data-mic':
      return { mic: toHex(dataMic(h(c.nwkSKey), c.dir as 'up' | 'down', h(c.devAddr), c.fCnt as number, h(c.msg))) };
    case 'uplink':
      return {
        phyPayload: toHex(encodeUplink({
          nwkSKey: h(c.nwkSKey), appSKey: h(c.appSKey), devAddr: h(c.devAddr), fCnt: c.fCnt as number, fPort: c.fPort as number | null,
          payload: h(c.payload), confirmed: c.confirmed as boolean, fOpts: c.fOpts === undefined || c.fOpts === null ? null : h(c.fOpts),
          adr: c.adr === true, adrAckReq: c.adrAckReq === true, ack: c.ack === true,
        })),
      };
    case 'downlink': {
      const r = openDownlink({ nwkSKey: h(c.nwkSKey), appSKey: h(c.appSKey), devAddr: h(c.devAddr) }, c.fCntDown as number, h(c.phyPayload));
      if (!r.ok) return { ok: false, code: r.code };
      return { ok: true, fPort: r.fPort, payload: toHex(r.payload), fOpts: toHex(r.fOpts), ack: r.ack, fPending: r.fPending, adr: r.adr, confirmed: r.confirmed };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

describe('simulator LoRaWAN frames: published vectors (protocol/vectors/lorawan.json)', () => {
  it('covers every op of the schema', () => {
    expect(new Set(published.map((v) => v.input.op))).toEqual(new Set(['join-request', 'join-accept', 'uplink', 'downlink', 'aes', 'cmac', 'session-keys', 'frm-payload', 'data-mic']));
  });
  for (const v of published) {
    it(`${v.name} (${v.input.op})`, () => {
      const out = run(v.input);
      for (const [k, want] of Object.entries(v.expected)) expect(out[k], k).toEqual(want);
    });
  }
});

describe('simulator LoRaWAN frames: the firmware\'s random cases (tests/helpers/lorawan-cases.ts, 1,000 of every op)', () => {
  const cases = lorawanCases(1000);
  it('join-request, join-accept (CFList, tampered), uplink (FPort none/0/1..255, FOpts, ADR/ACK/ADRACKReq, 32-bit FCnt), downlink (tampered, wrong FCnt), AES, CMAC, keys, keystream, MIC', () => {
    const counts: Record<string, number> = {};
    const refused: Record<string, number> = {};
    cases.forEach((c, i) => {
      const op = c.input.op as string;
      counts[op] = (counts[op] ?? 0) + 1;
      const out = run(c.input as Item);
      const where = `case ${i} ${JSON.stringify(c.input)}`;
      if (c.expected.ok === false) {
        // refused, as the firmware refuses it: a wrong high half of the 32-bit counter only by the MIC
        expect(out.ok, where).toBe(false);
        if (op === 'downlink' && !c.flipped) expect(out.code, where).toBe('lorawan/mic');
        refused[op] = (refused[op] ?? 0) + 1;
        return;
      }
      for (const [k, want] of Object.entries(c.expected)) expect(out[k], `${where}: ${k}`).toEqual(want);
    });
    for (const op of ['join-request', 'join-accept', 'uplink', 'downlink', 'aes', 'cmac', 'session-keys', 'frm-payload', 'data-mic']) expect(counts[op], op).toBe(1000);
    expect(refused['join-accept']).toBe(250);
    expect(refused.downlink).toBe(200);
    // FOpts and the flags were exercised both ways
    const ups = cases.filter((c) => c.input.op === 'uplink').map((c) => c.input);
    expect(ups.filter((u) => typeof u.fOpts === 'string' && u.fOpts.length > 0).length).toBeGreaterThan(100);
    expect(ups.filter((u) => u.fPort === null).length).toBe(200);
    expect(ups.filter((u) => u.fPort === 0).length).toBe(200);
    const accepts = cases.filter((c) => c.input.op === 'join-accept' && c.expected.ok === true);
    expect(accepts.filter((c) => c.expected.cfList !== null).length).toBeGreaterThan(100);
  });
});

const key = fc.uint8Array({ minLength: 16, maxLength: 16 });
const addr = fc.uint8Array({ minLength: 4, maxLength: 4 });
const eui = fc.uint8Array({ minLength: 8, maxLength: 8 });
const hx = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('simulator LoRaWAN frames: differential against the independent reference (seed 12)', () => {
  const params = { numRuns: 300, seed: 12 };
  it('join-request', () => {
    fc.assert(fc.property(key, eui, eui, fc.integer({ min: 0, max: 0xffff }), (appKey, joinEui, devEui, devNonce) => {
      const dn = devNonce.toString(16).padStart(4, '0');
      expect(toHex(encodeJoinRequest({ appKey, joinEui, devEui, devNonce }))).toBe(ref.joinRequest(hx(appKey), hx(joinEui), hx(devEui), dn));
    }), params);
  });
  it('join-accept: opens what a network server encodes, keys as derived by the reference', () => {
    fc.assert(fc.property(key, addr, fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffff }), fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (appKey, devAddr, joinNonce, netId, devNonce, withCf, cf) => {
        const jn = joinNonce.toString(16).padStart(6, '0');
        const ni = netId.toString(16).padStart(6, '0');
        const dn = devNonce.toString(16).padStart(4, '0');
        const phy = ref.encodeJoinAccept(hx(appKey), { joinNonce: jn, netId: ni, devAddr: hx(devAddr), dlSettings: 0x12, rxDelay: 5, cfList: withCf ? hx(cf) : null });
        const r = openJoinAccept(appKey, devNonce, fromHex(phy));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const keys = ref.sessionKeys(hx(appKey), jn, ni, dn);
        expect([r.joinNonce, r.netId, toHex(r.devAddr), r.dlSettings, r.rxDelay, r.cfList === null ? null : toHex(r.cfList)]).toEqual([joinNonce, netId, hx(devAddr), 0x12, 5, withCf ? hx(cf) : null]);
        expect([toHex(r.nwkSKey), toHex(r.appSKey)]).toEqual([keys.nwkSKey, keys.appSKey]);
        // any flipped bit is refused (MIC, MHDR or, for the first byte, the type)
        const bad = fromHex(phy);
        const bit = (joinNonce + devNonce) % (bad.length * 8);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(openJoinAccept(appKey, devNonce, bad).ok).toBe(false);
      }), params);
  });
  it('uplink, and downlink open', () => {
    fc.assert(fc.property(key, key, addr, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 223 }), fc.uint8Array({ maxLength: 222 }), fc.boolean(),
      (nwkSKey, appSKey, devAddr, fCnt, fPort, payload, confirmed) => {
        const f = { nwkSKey: hx(nwkSKey), appSKey: hx(appSKey), devAddr: hx(devAddr), fCnt, fPort, payload: hx(payload), confirmed };
        expect(toHex(encodeUplink({ nwkSKey, appSKey, devAddr, fCnt, fPort, payload, confirmed }))).toBe(ref.encodeData(0, f));
        const down = fromHex(ref.encodeData(1, f));
        expect(peekDownlinkFCnt(devAddr, down)).toBe(fCnt & 0xffff);
        const r = openDownlink({ nwkSKey, appSKey, devAddr }, fCnt, down);
        expect(r.ok && toHex(r.payload) === hx(payload) && r.fPort === fPort && r.confirmed === confirmed).toBe(true);
        // the wrong 32-bit counter (same low bits) fails the MIC; the wrong low bits fail the counter check
        const other = openDownlink({ nwkSKey, appSKey, devAddr }, (fCnt + 0x10000) % 2 ** 32, down);
        expect(other.ok === false && other.code).toBe('lorawan/mic');
        const off = openDownlink({ nwkSKey, appSKey, devAddr }, (fCnt + 1) % 2 ** 32, down);
        expect(off.ok === false && off.code).toBe('lorawan/fcnt');
      }), params);
  });
});

describe('simulator LoRaWAN frames: refusals', () => {
  const appKey = new Uint8Array(16).fill(1);
  it('names the code for each malformed join-accept, never throws on untrusted bytes', () => {
    expect(openJoinAccept(appKey, 1, new Uint8Array(16))).toMatchObject({ ok: false, code: 'lorawan/length' });
    expect(openJoinAccept(appKey, 1, new Uint8Array(17).fill(0x40))).toMatchObject({ ok: false, code: 'lorawan/mtype' });
    const ja = new Uint8Array(17);
    ja[0] = 0x20;
    expect(openJoinAccept(appKey, 1, ja)).toMatchObject({ ok: false, code: 'lorawan/mic' });
  });
  it('refuses a downlink for another DevAddr and an uplink MHDR', () => {
    const keys = { nwkSKey: appKey, appSKey: appKey, devAddr: fromHex('01020304') };
    const up = encodeUplink({ ...keys, fCnt: 1, fPort: 1, payload: new Uint8Array(3), confirmed: false });
    expect(openDownlink(keys, 1, up)).toMatchObject({ ok: false, code: 'lorawan/mtype' });
    const down = fromHex(ref.encodeData(1, { nwkSKey: hx(appKey), appSKey: hx(appKey), devAddr: '01020305', fCnt: 1, fPort: 1, payload: '00', confirmed: false }));
    expect(openDownlink(keys, 1, down)).toMatchObject({ ok: false, code: 'lorawan/dev-addr' });
    expect(peekDownlinkFCnt(keys.devAddr, down)).toBe(-1);
  });
  it('programmer errors throw RangeError/TypeError naming the argument', () => {
    expect(() => encodeJoinRequest({ appKey: new Uint8Array(15), joinEui: new Uint8Array(8), devEui: new Uint8Array(8), devNonce: 0 })).toThrow(/appKey: expected Uint8Array of length 16, got length=15/);
    expect(() => encodeJoinRequest({ appKey, joinEui: new Uint8Array(8), devEui: new Uint8Array(8), devNonce: 70000 })).toThrow(/devNonce/);
    expect(() => encodeUplink({ nwkSKey: appKey, appSKey: appKey, devAddr: new Uint8Array(4), fCnt: 0, fPort: 1, payload: new Uint8Array(243), confirmed: false })).toThrow(/at most 255/);
  });
});
