// The readers of sceau's own byte layout (frame-layout.ts) are a shortcut of verifyFrame: for
// every input they accept, the generic strict parser must give the same parts and the same
// record; everything sceau's encoders write must take the shortcut; anything else must not.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, fromHex, parseCbor, readCanonicalFrame, readCanonicalRecord, sealRecord, toHex, type CborItem, type SceauRecord } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const vectors = require('@sceau/protocol/vectors/frames.json') as { positive: Array<{ frame: string }>; negative: Array<{ frame: string }> };

/** The generic parser's view of a frame in sceau's layout: the same fields, or null. */
function genericParts(bytes: Uint8Array): { alg: number; protectedBytes: string; kid: string | undefined; payload: string; signature: string } | null {
  const parsed = parseCbor(bytes);
  if (!parsed.ok || parsed.nonCanonical || parsed.duplicateKey) return null;
  const tag = parsed.item;
  if (tag.kind !== 'tag' || tag.tag !== 18 || tag.item.kind !== 'array' || tag.item.items.length !== 4) return null;
  const [prot, unprot, payload, signature] = tag.item.items as [CborItem, CborItem, CborItem, CborItem];
  if (prot.kind !== 'bytes' || unprot.kind !== 'map' || payload.kind !== 'bytes' || signature.kind !== 'bytes' || signature.value.length !== 64) return null;
  const header = parseCbor(prot.value);
  if (!header.ok || header.nonCanonical || header.item.kind !== 'map' || header.item.entries.length !== 1) return null;
  const [label, alg] = header.item.entries[0]!;
  if (label.kind !== 'uint' || label.value !== 1 || alg.kind !== 'nint' || (alg.value !== -8 && alg.value !== -19)) return null;
  let kid: string | undefined;
  if (unprot.entries.length > 1) return null;
  if (unprot.entries.length === 1) {
    const [k, v] = unprot.entries[0]!;
    if (k.kind !== 'uint' || k.value !== 4 || v.kind !== 'bytes' || v.value.length !== 8) return null;
    kid = toHex(v.value);
  }
  return { alg: Number(alg.value), protectedBytes: toHex(prot.value), kid, payload: toHex(payload.value), signature: toHex(signature.value) };
}

function fastParts(bytes: Uint8Array): ReturnType<typeof genericParts> | undefined {
  const f = readCanonicalFrame(bytes);
  return f && { alg: f.alg, protectedBytes: toHex(f.protectedBytes), kid: f.kid && toHex(f.kid), payload: toHex(f.payload), signature: toHex(f.signature) };
}

/** The shortcut either declines or agrees with the generic strict decoder. */
function expectRecordAgrees(bytes: Uint8Array): boolean {
  const fast = readCanonicalRecord(bytes);
  if (fast === undefined) return false;
  const generic = decodeRecord(bytes);
  expect(generic.ok, toHex(bytes)).toBe(true);
  expect(fast, toHex(bytes)).toEqual((generic as { record: SceauRecord }).record);
  return true;
}

function expectFrameAgrees(bytes: Uint8Array): boolean {
  const fast = fastParts(bytes);
  if (fast === undefined) return false;
  expect(fast, toHex(bytes)).toEqual(genericParts(bytes));
  return true;
}

let seed = 0x5eed;
const random = (n: number): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.floor((seed / 2 ** 31) * n);
};

function randomRecord(): SceauRecord {
  const big = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1];
  const int = (): number => (random(3) === 0 ? big[random(big.length)]! : random(100_000));
  const readings = Array.from({ length: 1 + random(6) }, () => {
    const value = random(4) === 0 ? -1 - int() : int();
    const age = random(3) === 0 ? 1 + random(100_000) : 0;
    return age === 0 ? { channel: int(), value } : { channel: int(), value, age };
  });
  return { version: 1, counter: 1 + random(2 ** 32 - 1), time: random(2) === 0 ? null : int(), readings };
}

function mutate(bytes: Uint8Array): Uint8Array {
  const b = Array.from(bytes);
  const at = random(b.length + 1);
  switch (random(5)) {
    case 0:
      if (at < b.length) b[at] = random(256);
      break;
    case 1:
      if (at < b.length) b[at] = b[at]! ^ (1 << random(8));
      break;
    case 2:
      b.splice(at, 0, random(256));
      break;
    case 3:
      b.splice(at, 1);
      break;
    default:
      b.length = at;
  }
  return Uint8Array.from(b);
}

describe('readCanonicalFrame and readCanonicalRecord', () => {
  it('take every positive golden vector, agreeing with the generic parser', () => {
    for (const v of vectors.positive) {
      const frame = fromHex(v.frame);
      expect(expectFrameAgrees(frame), v.frame).toBe(true);
      expect(expectRecordAgrees(readCanonicalFrame(frame)!.payload)).toBe(true);
    }
  });

  it('agree with the generic parser on every negative vector they take', () => {
    for (const v of vectors.negative) {
      const frame = fromHex(v.frame);
      expectFrameAgrees(frame);
      const parts = readCanonicalFrame(frame);
      if (parts !== undefined) expectRecordAgrees(parts.payload);
    }
  });

  it('take whatever sealRecord and encodeRecord write, with and without kid', () => {
    const key = new Uint8Array(32).fill(7);
    for (let i = 0; i < 300; i++) {
      const record = randomRecord();
      const frame = sealRecord(record, key, { kid: i % 2 === 0 });
      expect(expectFrameAgrees(frame)).toBe(true);
      expect(readCanonicalRecord(encodeRecord(record))).toEqual(record);
      expect(expectRecordAgrees(readCanonicalFrame(frame)!.payload)).toBe(true);
    }
  });

  it('decline or agree on 30,000 mutated frames and records', () => {
    const key = new Uint8Array(32).fill(9);
    const frames = [...vectors.positive.map((v) => fromHex(v.frame)), ...Array.from({ length: 20 }, () => sealRecord(randomRecord(), key))];
    let frameTaken = 0;
    let recordTaken = 0;
    for (let i = 0; i < 15_000; i++) {
      const frame = frames[random(frames.length)]!;
      let mutated = mutate(frame);
      if (random(4) === 0) mutated = mutate(mutated);
      if (expectFrameAgrees(mutated)) frameTaken++;
      const payload = readCanonicalFrame(frame)!.payload;
      if (expectRecordAgrees(mutate(payload))) recordTaken++;
    }
    // Some mutations keep the layout (a changed signature or value byte): both sides were compared.
    expect(frameTaken).toBeGreaterThan(1000);
    expect(recordTaken).toBeGreaterThan(1000);
  });

  it('decline the encodings only the generic parser may judge', () => {
    const declined = [
      '840101f6818201', // a reading cut short
      '84011805f681820102', // counter 5 in a longer head than needed
      '840100f681820102', // counter 0
      '840101f781820102', // time undefined (simple 23)
      '8402' + '01f681820102', // version 2
      '8401' + '01f680', // no readings
      '8401' + '01f681830102' + '00', // explicit age 0
      '8401' + '01f68182f93c00' + '02', // a float channel
      '8401' + '01f681820102' + '00', // a byte after the record
      '8401' + '1b0000000000000001' + 'f681820102', // an 8-byte counter
      '8401' + '01f6818201' + '3b0000000100000000', // value below -2^32
      '8401' + '01f6' + '9f820102ff', // indefinite-length readings
    ];
    for (const hex of declined) expect(readCanonicalRecord(fromHex(hex)), hex).toBeUndefined();
    const frame = sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 2 }] }, new Uint8Array(32).fill(1));
    const hex = toHex(frame);
    const variants = [
      hex.slice(2), // untagged
      `d8${'12'}${hex.slice(2)}`, // tag 18 in a longer head
      hex.replace('a10127', 'a10126'), // alg -7
      `${hex}00`, // a byte after the frame
      hex.slice(0, -2), // a byte short
    ];
    for (const v of variants) expect(readCanonicalFrame(fromHex(v)), v).toBeUndefined();
  });
});
