// The readers of sceau's own byte layout (frame-layout.ts) are a shortcut of verifyFrame: for
// every input they accept, the generic strict parser must give the same parts and the same
// record; everything sceau's encoders write must take the shortcut; anything else must not.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CborWriter, decodeRecord, encodeRecord, fromHex, parseCbor, readCanonicalFrame, readCanonicalRecord, sealRecord, toHex, type CborItem, type SceauRecord } from '@sceau/protocol';

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

// Rule (docs/protocol.md#frame): sceau's layout is tag 18, protected {1: -8} or {1: -19}, an
// unprotected {4: 8-byte kid} or {}, the payload in a byte string with the shortest head, a 64-byte
// signature, nothing after. The fast readers must take every frame and record of that layout at
// each head width's boundary (else a mutant that sends them to the generic parser would go unseen
// here) and give the parts exactly.
describe('the fast readers at every head width', () => {
  const sig = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
  const kid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const build = (payload: Uint8Array, withKid: boolean, alg: 0x27 | 0x32) => {
    const w = new CborWriter().tag(18).array(4).bytes(Uint8Array.of(0xa1, 0x01, alg));
    if (withKid) w.map(1).int(4).bytes(kid);
    else w.map(0);
    return w.bytes(payload).bytes(sig).finish();
  };

  it('takes frames whose payload is 0, 23, 24, 255, 256 and 1000 bytes, with and without kid, under both algs', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 1000]) {
      for (const withKid of [true, false]) {
        for (const alg of [0x27, 0x32] as const) {
          const payload = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
          const frame = build(payload, withKid, alg);
          const parts = readCanonicalFrame(frame);
          expect(parts, `${n} ${withKid} ${alg}`).toBeDefined();
          expect(parts!.alg).toBe(alg === 0x27 ? -8 : -19);
          expect(toHex(parts!.protectedBytes)).toBe(`a101${alg.toString(16)}`);
          expect(parts!.kid && toHex(parts!.kid)).toBe(withKid ? toHex(kid) : undefined);
          expect(toHex(parts!.payload)).toBe(toHex(payload));
          expect(toHex(parts!.signature)).toBe(toHex(sig));
          expect(expectFrameAgrees(frame)).toBe(true);
        }
      }
    }
    expect(build(new Uint8Array(0), false, 0x27).length).toBe(74); // the smallest frame of the layout
  });

  // Inputs built so that a loosened head check would take them (found by mutation testing): the
  // reader must read a payload head only as what it is.
  it('declines a payload head that is not a byte string, or a 1-byte length head read as a 2-byte one', () => {
    // An integer head (0x3d, -30) after a kid whose last two bytes are 58 40: read as a byte string
    // of length 0x3d - 0x40 = -3, its "end" would land on those two bytes with 66 bytes left.
    const intHead = fromHex('d28443a10127a10448' + '010203040506' + '5840' + '3d' + '00'.repeat(63));
    expect(intHead.length).toBe(81);
    expect(readCanonicalFrame(intHead)).toBeUndefined();
    // 58 01 (a length of 1 in a 1-byte head: not shortest), read as 2 bytes 01 00 it is 256.
    const longHead = fromHex('d28443a10127a0' + '5801' + '00' + '00'.repeat(256) + '5840' + '11'.repeat(64));
    expect(readCanonicalFrame(longHead)).toBeUndefined();
    expect(parseCbor(longHead).ok).toBe(false); // not even one CBOR item: the generic path refuses it too
  });

  it('declines payload heads longer than needed, a signature of another length, and other headers', () => {
    const p = (n: number) => new Uint8Array(n);
    const frame = toHex(build(p(23), true, 0x27));
    expect(readCanonicalFrame(fromHex(frame.replace(`a10448${toHex(kid)}57`, `a10448${toHex(kid)}5817`)))).toBeUndefined();
    const f255 = toHex(build(p(255), false, 0x27));
    expect(readCanonicalFrame(fromHex(f255.replace('a058ff', 'a05900ff')))).toBeUndefined();
    for (const bad of [
      toHex(build(p(3), true, 0x27)).replace(/5840([0-9a-f]{128})$/, '583f$1').slice(0, -2), // a 63-byte signature
      toHex(build(p(3), true, 0x27)).replace('a10448', 'a10447').replace(/(a10447[0-9a-f]{14})[0-9a-f]{2}/, '$1'), // a 7-byte kid
      toHex(build(p(3), true, 0x27)).replace('a10448', 'a10548'), // label 5
      toHex(build(p(3), false, 0x27)).replace('d28443a10127a0', 'd28443a10127a1'), // a map of 1 with nothing in it
      toHex(build(p(3), false, 0x27)).replace('d28443a10127', 'd28443a10227'), // label 2 protected
      toHex(build(p(3), false, 0x27)).replace('d28443a10127', 'd28443a20127'), // protected map of 2
      toHex(build(p(3), false, 0x27)).replace('d28443a10127', 'd28442a101'), // protected of 2 bytes
      toHex(build(p(3), false, 0x27)).replace('d284', 'd285'), // an array of 5
      toHex(build(p(3), false, 0x27)).replace('d284', 'd384'), // tag 19
      toHex(build(p(3), false, 0x27)).replace(/a043/, 'a063'), // payload as text
    ]) {
      expect(readCanonicalFrame(fromHex(bad)), bad).toBeUndefined();
    }
  });

  it('takes records at every integer width boundary and gives the generic decoder\'s record', () => {
    for (const v of [0, 23, 24, 255, 256, 65535, 65536, 4294967295]) {
      for (const record of [
        { version: 1 as const, counter: Math.max(1, v), time: v, readings: [{ channel: v, value: v, age: Math.max(1, v) }] },
        { version: 1 as const, counter: Math.max(1, v), time: null, readings: [{ channel: v, value: -1 - v }, { channel: 1, value: v === 0 ? 0 : -v }] },
      ]) {
        const bytes = encodeRecord(record);
        expect(readCanonicalRecord(bytes), toHex(bytes)).toEqual(record);
        expect(expectRecordAgrees(bytes)).toBe(true);
      }
    }
    const many = { version: 1 as const, counter: 1, time: null, readings: Array.from({ length: 300 }, (_, i) => ({ channel: i, value: i })) };
    expect(readCanonicalRecord(encodeRecord(many))).toEqual(many);
  });

  it('declines records whose heads are longer than needed or cut short, at every width', () => {
    for (const hex of [
      '8401' + '1817' + 'f681820102', '8401' + '1900ff' + 'f681820102', '8401' + '1a0000ffff' + 'f681820102', // counter
      '8401' + '01' + '1817' + '81820102', '8401' + '01' + '1900ff' + '81820102', // time
      '8401' + '01f6' + '9801' + '820102', '8401' + '01f6' + '81' + '9802' + '0102', // counts
      '8401' + '01f681' + '82' + '1817' + '02', '8401' + '01f681' + '8201' + '1900ff', '8401' + '01f681' + '8201' + '3817', // values
      '8401' + '01f681' + '8201' + '3900ff', '8401' + '01f681' + '8201' + '3a0000ffff', '8401' + '01f681' + '830102' + '1817',
      '8401' + '01f681' + '8201' + '19ff', '8401' + '01f681' + '8201' + '1affffff', '8401' + '01f681' + '8201' + '18', // cut short
      '8401' + '01f681' + '8201' + '39ff', '8401' + '01f681' + '8201' + '3affffff', '8401' + '01f681' + '8201' + '38',
      '8401' + '01f681' + '8201' + '3b00000000ffffffff', '8401' + '01f681' + '8201' + '1b00000000ffffffff', // 8-byte heads
      '8401' + '01f681' + '8301' + '02', '8401' + '01f681' + '8201', '8401' + '01f681' + '82', '8401' + '01f681', '8401' + '01f6', '8401', '84', '',
      '8401' + '01f681' + '8101', '8401' + '01f681' + '840102' + '0101', '8401' + '01f681' + '82' + '20' + '01', // a reading of 1 or 4, a negative channel
      '8401' + '01' + '20' + '81820102', '8401' + '20' + 'f681820102', // negative time, negative counter
      '8501' + '01f681820102' + '00', '8401' + '01f6' + 'a0', '8401' + '01f6' + '81' + 'a0',
    ]) {
      expect(readCanonicalRecord(fromHex(hex)), hex).toBeUndefined();
    }
  });
});
