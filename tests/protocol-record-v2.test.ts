// Record version 2 (issue 17): operational readings in clear, the rest in a COSE_Encrypt0 under
// the device's content key, the whole record signed as v1 is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CborWriter, MemoryKeyring, OPERATIONAL_CHANNELS, contentBaseIv, contentNonce, encodeRecord, encodeRecordV2, fromHex, getPublicKey, kidOf,
  openRecordReadings, parseCbor, recordV2FromItem, sealRecord, sealRecordV2, sha256, sigStructure, signEd25519, toHex, verifyFrame,
  type FrameAccepted, type SceauRecordV2,
} from '@sceau/protocol';
import { recordArb } from './helpers/arbitraries.js';

const text = (s: string) => new TextEncoder().encode(s);
const seed = sha256(text('record v2 test device'));
const contentKey = sha256(text('record v2 test content key'));
const kid = kidOf(getPublicKey(seed));
const keyring = new MemoryKeyring();
keyring.add(getPublicKey(seed));
const both = { recordVersions: [1, 2] };
const record = { version: 1 as const, counter: 77, time: 1764331200, readings: [{ channel: 1, value: 2150, age: 600 }, { channel: 32, value: 3 }, { channel: 2, value: 4500 }, { channel: 5, value: 3012 }] };

function accepted(frame: Uint8Array): FrameAccepted {
  const r = verifyFrame(frame, keyring, both);
  if (!r.ok) throw new Error(`${r.code}: ${r.detail}`);
  return r;
}

/** A frame signed by the test device around any payload. */
function signedPayload(payload: Uint8Array): Uint8Array {
  const protectedBytes = Uint8Array.of(0xa1, 0x01, 0x27);
  const signature = signEd25519(seed, sigStructure(protectedBytes, new Uint8Array(0), payload));
  return new CborWriter().tag(18).array(4).bytes(protectedBytes).map(1).int(4).bytes(kid).bytes(payload).bytes(signature).finish();
}

describe('record version 2', () => {
  it('verifies like v1: operational readings in clear, the others only with the content key', () => {
    const r = accepted(sealRecordV2(record, seed, contentKey));
    expect(r.record.version).toBe(2);
    expect(r.readings).toEqual([{ channel: 32, value: 3, at: 1764331200 }, { channel: 5, value: 3012, at: 1764331200 }]);
    expect(r.encrypted?.[0]).toBe(0xd0); // tag 16
    const opened = openRecordReadings(r.record as SceauRecordV2, contentKey, r.kid);
    expect(opened).toEqual({ ok: true, readings: [{ channel: 1, value: 2150, age: 600 }, { channel: 2, value: 4500 }] });
  });

  it('is unsupported-version for a verifier that reads only v1 (the default)', () => {
    const r = verifyFrame(sealRecordV2(record, seed, contentKey), keyring);
    expect(r).toMatchObject({ ok: false, code: 'unsupported-version' });
  });

  it('keeps every reading in clear that is operational, and encrypts an empty list when nothing else is left', () => {
    const r = accepted(sealRecordV2({ counter: 1, time: null, readings: [{ channel: 32, value: 1 }] }, seed, contentKey));
    expect(r.readings).toEqual([{ channel: 32, value: 1 }]);
    expect(openRecordReadings(r.record as SceauRecordV2, contentKey, r.kid)).toEqual({ ok: true, readings: [] });
  });

  it('derives the nonce as baseIV XOR the counter, right-aligned big-endian in 13 bytes', () => {
    const base = contentBaseIv(contentKey);
    expect(base.length).toBe(13);
    const n = contentNonce(base, 0x01020304);
    expect(toHex(n.subarray(0, 9))).toBe(toHex(base.subarray(0, 9)));
    expect([n[9]! ^ base[9]!, n[10]! ^ base[10]!, n[11]! ^ base[11]!, n[12]! ^ base[12]!]).toEqual([1, 2, 3, 4]);
    expect(() => contentNonce(base, 0)).toThrow(RangeError);
  });

  it('one flipped ciphertext bit fails the signature', () => {
    const frame = sealRecordV2(record, seed, contentKey);
    const payloadEnd = frame.length - 66;
    const tampered = frame.slice();
    tampered[payloadEnd - 3]! ^= 0x10; // inside the ciphertext
    expect(verifyFrame(tampered, keyring, both)).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('a wrong content key or kid fails cleanly, never giving readings', () => {
    const r = accepted(sealRecordV2(record, seed, contentKey));
    const wrongKey = contentKey.slice();
    wrongKey[31]! ^= 1;
    expect(openRecordReadings(r.record as SceauRecordV2, wrongKey, r.kid)).toMatchObject({ ok: false, code: 'decrypt-failed' });
    expect(openRecordReadings(r.record as SceauRecordV2, contentKey, '0011223344556677')).toMatchObject({ ok: false, code: 'decrypt-failed' });
    // the counter and time are in the AAD: the same ciphertext under another counter does not open
    expect(openRecordReadings({ ...(r.record as SceauRecordV2), counter: 78 }, contentKey, r.kid)).toMatchObject({ ok: false, code: 'decrypt-failed' });
    expect(openRecordReadings({ ...(r.record as SceauRecordV2), time: 1 }, contentKey, r.kid)).toMatchObject({ ok: false, code: 'decrypt-failed' });
  });

  it('costs 17 or 18 bytes over v1 with the same readings while the ciphertext is under 256 bytes', () => {
    fc.assert(
      fc.property(recordArb, (rec) => {
        const v1 = encodeRecord(rec).length;
        const v2 = encodeRecordV2(rec, contentKey, kid);
        const ciphertext = (recordV2FromItem((parseCbor(v2) as { item: any }).item, v2) as { record: SceauRecordV2 }).record.encrypted.length;
        if (ciphertext < 256 && rec.readings.filter((x) => OPERATIONAL_CHANNELS.includes(x.channel)).length < 24) {
          expect(v2.length - v1).toBeGreaterThanOrEqual(17);
          expect(v2.length - v1).toBeLessThanOrEqual(18);
        }
      }),
      { numRuns: 300 },
    );
    // the biggest record a LoRaWAN frame carries (DR5/EU868, 222 bytes) is in that range
    const full = { version: 1 as const, counter: 1, time: null, readings: Array.from({ length: 20 }, (_, i) => ({ channel: 1, value: 100000 + i, age: 600 * i + 1 })) };
    expect(encodeRecordV2(full, contentKey, kid).length - encodeRecord(full).length).toBe(18);
  });

  describe('strict decoding (bad-record, signature valid)', () => {
    const good = encodeRecordV2(record, contentKey, kid);
    const goodItem = (parseCbor(good) as { item: any }).item;
    const encryptedBytes = good.subarray(goodItem.items[4].start);
    const payload = (head: string, clear: string, encrypted: Uint8Array = encryptedBytes) => {
      const w = new CborWriter().raw(fromHex(head)).raw(fromHex(clear)).raw(encrypted);
      return w.finish();
    };
    const rebuiltEncrypt0 = (protectedHex: string, unprotectedHex: string) => {
      const ct = goodItem.items[4].item.items[2].value as Uint8Array;
      return new CborWriter().tag(16).array(3).bytes(fromHex(protectedHex)).raw(fromHex(unprotectedHex)).bytes(ct).finish();
    };
    const cases: Array<[string, Uint8Array]> = [
      ['a non-operational channel in clear', payload('85021818f6', '818201190866')],
      ['four elements', new CborWriter().raw(fromHex('8402184df6')).raw(encryptedBytes).finish()],
      ['COSE_Encrypt0 untagged', payload('85021818f6', '80', encryptedBytes.subarray(1))],
      ['COSE_Sign1 tag instead of 16', payload('85021818f6', '80', Uint8Array.from([0xd2, ...encryptedBytes.subarray(1)]))],
      ['another algorithm (A128GCM)', payload('85021818f6', '80', rebuiltEncrypt0('a10101', 'a0'))],
      ['an IV in the unprotected header', payload('85021818f6', '80', rebuiltEncrypt0('a1010b', 'a1054d00000000000000000000000000'))],
      ['ciphertext shorter than the tag', payload('85021818f6', '80', fromHex('d08343a1010ba04700000000000000'))],
      ['counter 0', payload('850200f6', '80')],
    ];
    it.each(cases)('%s', (_name, p) => {
      const r = verifyFrame(signedPayload(p), keyring, both);
      expect(r).toMatchObject({ ok: false, code: 'bad-record' });
    });
    it('and the untouched record verifies', () => {
      expect(verifyFrame(signedPayload(good), keyring, both).ok).toBe(true);
    });
  });

  it('v1 frames still verify with v2 enabled, byte for byte the same readings', () => {
    const v1 = verifyFrame(sealRecord(record, seed), keyring, both);
    expect(v1.ok && v1.record).toEqual(record);
  });
});

describe('inspectFrame on record version 2', () => {
  it('shows the clear readings and the encrypted part, without verifying', async () => {
    const { inspectFrame } = await import('@sceau/protocol');
    const info = inspectFrame(sealRecordV2(record, seed, contentKey));
    expect(info.record).toEqual({ version: 2, counter: 77, time: 1764331200, clearReadings: [{ channel: 32, value: 3 }, { channel: 5, value: 3012 }] });
    expect(info.readings?.map((r) => r.name)).toEqual(['boot', 'battery']);
    expect(info.encrypted?.startsWith('d08343a1010ba0')).toBe(true);
  });
});
