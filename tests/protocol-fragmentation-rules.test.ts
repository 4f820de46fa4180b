// Fragments (docs/protocol.md#fragments), rule by rule, written from the survivors of the
// mutation run of protocol/src/fragmentation.ts (issue 19): the arguments refused with their
// message, the MTU and 16-fragment bounds, tag and hint derived only when needed, sender hints
// on the links that need them, the expiry's bounds, and the reassembler's counters exactly.
import { describe, expect, it } from 'vitest';
import { CborWriter, fragment, linkProfiles, maxFrameBytes, Reassembler, sealRecord, sha256, type SceauRecord } from '@sceau/protocol';

const seed = sha256(Uint8Array.of(0xf1));
const lora = linkProfiles['lorawan-eu868-dr0']!; // MTU 51, names the sender
const udp = linkProfiles.udp!; // MTU 1232, does not: fragments carry a 2-byte hint
/** A frame that makes exactly 2 fragments on `lora`. */
const twoParts = (counter: number): Uint8Array[] => {
  const parts = fragment(sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 5 }] }, seed), lora);
  expect(parts).toHaveLength(2);
  return parts;
};
const record = (counter: number, n: number): SceauRecord => ({ version: 1, counter, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: 100_000 + i })) });

describe('fragment: arguments and bounds', () => {
  it('refuses what is not a whole frame, naming the argument', () => {
    expect(() => fragment('d2' as never, lora)).toThrow(/^frame: expected Uint8Array/);
    for (const bad of [new Uint8Array(0), Uint8Array.of(0x12, 0x34)]) {
      expect(() => fragment(bad, lora)).toThrow(new TypeError('frame: a whole frame starts with a byte with bit 7 set (0xd2)'));
    }
  });

  it('sends a frame of exactly the MTU whole, as a copy; one byte more is fragmented', () => {
    const frame = new Uint8Array(lora.mtu).fill(0xd2);
    const [only, ...rest] = fragment(frame, lora, { tag: 1 });
    expect(rest).toEqual([]);
    expect(only).toEqual(frame);
    frame[1] = 0;
    expect(only![1]).toBe(0xd2); // not the caller's buffer
    expect(fragment(new Uint8Array(lora.mtu + 1).fill(0xd2), lora, { tag: 1 })).toHaveLength(2);
  });

  it('carries up to exactly 16 fragments; one byte more is a RangeError with the sizes', () => {
    const max = maxFrameBytes(lora);
    expect(fragment(new Uint8Array(max).fill(0xd2), lora, { tag: 0 })).toHaveLength(16);
    expect(() => fragment(new Uint8Array(max + 1).fill(0xd2), lora, { tag: 0 })).toThrow(
      new RangeError(`frame: ${max + 1} bytes need 17 fragments on lorawan-eu868-dr0, at most 16 (${max} bytes)`),
    );
  });

  it('reads the frame for tag and hint only when they are not given', () => {
    const notSceau = new Uint8Array(120).fill(0xd2); // starts like a frame, is not one
    // Tag given on a link that names the sender: nothing to derive.
    expect(fragment(notSceau, lora, { tag: 3 })).toHaveLength(3);
    // Tag and hint given on a link that needs a hint: nothing to derive either.
    const big = new Uint8Array(udp.mtu + 10).fill(0xd2);
    const parts = fragment(big, udp, { tag: 2, hint: Uint8Array.of(0xab, 0xcd) });
    expect(parts.map((d) => [d[0], d[1], d[2]])).toEqual([[0x21, 0xab, 0xcd], [0x20, 0xab, 0xcd]]);
    // Otherwise the frame must be a sceau frame, and its payload a record.
    expect(() => fragment(notSceau, lora)).toThrow(new TypeError('frame: expected a sceau COSE_Sign1 frame (needed to derive tag and hint)'));
    expect(() => fragment(big, udp, { tag: 2 })).toThrow(new TypeError('frame: expected a sceau COSE_Sign1 frame (needed to derive tag and hint)'));
    const notSign1 = new CborWriter().tag(18).bytes(new Uint8Array(100)).finish(); // well-formed CBOR, not a COSE_Sign1
    expect(() => fragment(notSign1, lora)).toThrow(new TypeError('frame: expected a sceau COSE_Sign1 frame (needed to derive tag and hint)'));
    const sign1 = (payload: Uint8Array) => new CborWriter().tag(18).array(4).bytes(Uint8Array.of(0xa1, 0x01, 0x27)).map(0).bytes(payload).bytes(new Uint8Array(64)).finish();
    for (const payload of [Uint8Array.of(0x85, 1, 1, 0xf6, 0x81, 0x82, 1, 5, 0), Uint8Array.of(0x84, 1, 1)]) {
      // an array of 5 (not a record), and bytes that are not CBOR
      expect(() => fragment(sign1(payload), lora)).toThrow(new TypeError('frame: its payload is not a sceau record (needed to derive the tag)'));
    }
  });

  it('refuses a tag outside 0..7 and a hint of the wrong length, naming them', () => {
    const frame = sealRecord(record(9, 10), seed);
    expect(() => fragment(frame, lora, { tag: 8 })).toThrow(new RangeError('tag: expected an integer in 0..7, got 8'));
    expect(() => fragment(sealRecord(record(9, 200), seed), udp, { hint: Uint8Array.of(1) })).toThrow(/^hint: expected Uint8Array of length 2/);
  });
});

describe('Reassembler: rules and counters', () => {
  it('refuses options out of range, with their names', () => {
    expect(() => new Reassembler({ expiryMs: 0 })).toThrow(new RangeError('expiryMs: expected a positive number, got 0'));
    for (const maxPending of [0, 1.5, -1]) expect(() => new Reassembler({ maxPending })).toThrow(new RangeError(`maxPending: expected a positive integer, got ${maxPending}`));
    expect(() => new Reassembler({ maxPending: 1 })).not.toThrow();
    expect(() => new Reassembler().push('x' as never, 0)).toThrow(/^datagram: expected Uint8Array/);
  });

  it('rebuilds a frame sent with sender hints (a link that does not name the sender), and counts exactly', () => {
    const frame = sealRecord(record(21, 200), seed);
    const parts = fragment(frame, udp);
    expect(parts.length).toBe(2);
    const r = Reassembler.forProfile(udp);
    expect(r.push(Uint8Array.of(0x50, 0xab, 0xcd), 0, 's')).toEqual({ kind: 'invalid', detail: 'fragment without content' }); // a hint and nothing else
    expect(r.push(new Uint8Array(0), 0, 's')).toEqual({ kind: 'invalid', detail: 'empty datagram' });
    expect(r.push(parts[0]!, 1000, 's')).toEqual({ kind: 'pending' });
    expect(r.push(parts[0]!, 1001, 's')).toEqual({ kind: 'duplicate' });
    expect(r.push(parts[1]!, 1002, 's')).toEqual({ kind: 'frame', frame, fragments: 2 });
    expect(r.push(frame.subarray(0, 10), 1003, 's')).toMatchObject({ kind: 'frame', fragments: 1 }); // whole: passed through
    expect(r.stats()).toMatchObject({ whole: 1, reassembled: 1, fragments: 3, duplicates: 1, expired: 0, invalid: 2, pending: 0, bytes: 0 });
    expect(Object.values(r.stats().dropped).every((n) => n === 0)).toBe(true);
    // Without hints, the same datagrams are read as hint-less: their first 2 bytes are frame bytes.
    const plain = new Reassembler({ senderHint: false });
    expect(plain.push(Uint8Array.of(0x50, 0xab), 0)).toEqual({ kind: 'pending' });
  });

  it('a fragment with no source given is one with source "" (the default)', () => {
    const [a, b] = twoParts(30);
    const r = new Reassembler();
    expect(r.push(a!, 0).kind).toBe('pending');
    expect(r.push(b!, 0, '')).toMatchObject({ kind: 'frame', fragments: 2 });
  });

  it('a single fragment 0 holding a whole frame, or fragments that make CBOR other than a frame, stay pending', () => {
    const frame = sealRecord(record(31, 2), seed);
    const r = new Reassembler();
    expect(r.push(Uint8Array.of(0x00, ...frame), 0)).toEqual({ kind: 'pending' }); // a fragmented frame has at least 2 fragments
    expect(r.push(Uint8Array.of(0x11, 0x82, 0x01), 0)).toEqual({ kind: 'pending' });
    expect(r.push(Uint8Array.of(0x10, 0x02), 0)).toEqual({ kind: 'pending' }); // [1, 2]: CBOR, not tag 18
    expect(r.stats()).toMatchObject({ reassembled: 0, pending: 2, fragments: 3 });
  });

  it('expiry: a message idle for exactly expiryMs is kept, one ms more is dropped and counted', () => {
    const [a, b] = twoParts(40);
    const r = new Reassembler({ expiryMs: 500 });
    r.push(a!, 10_000, 's');
    expect(r.expire(10_500)).toBe(0);
    expect(r.push(b!, 10_500, 's')).toMatchObject({ kind: 'frame' });
    r.push(a!, 20_000, 's');
    expect(r.push(b!, 20_501, 's')).toEqual({ kind: 'pending' }); // the first fragment expired on arrival of the second
    expect(r.stats()).toMatchObject({ expired: 1, pending: 1 });
    expect(r.expire(21_001)).toBe(0); // the second fragment arrived at 20,501
    expect(r.expire(21_002)).toBe(1);
    expect(r.stats()).toMatchObject({ expired: 2, pending: 0 });
  });

  it('a newer message reusing a tag gives up the old one once, and the newer rebuilds', () => {
    const old = fragment(sealRecord(record(8, 30), seed), lora); // tag 0
    const newer = fragment(sealRecord(record(16, 30), sha256(Uint8Array.of(2))), lora); // tag 0 too
    expect(old.length).toBe(newer.length);
    const top = old.length - 1;
    const r = new Reassembler();
    for (let i = 0; i < top; i++) r.push(old[i]!, 0, 's'); // all but the last: the old message is incomplete
    for (let i = 0; i < newer.length - 1; i++) expect(r.push(newer[i]!, 1, 's').kind).toBe('pending');
    expect(r.push(newer[top]!, 1, 's')).toMatchObject({ kind: 'frame', fragments: newer.length });
    expect(r.stats().expired).toBe(1);
  });

  it('holds at most maxPending messages: the oldest is given up and counted', () => {
    const r = new Reassembler({ maxPending: 1 });
    r.push(Uint8Array.of(0x11, 0xd2), 0, 'a');
    r.push(Uint8Array.of(0x21, 0xd2), 0, 'a');
    expect(r.stats()).toMatchObject({ pending: 1, expired: 1, fragments: 2 });
  });
});
