import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  airtimeMs, fragment, fragmentCapacity, getPublicKey, kidOf, linkProfile, linkProfiles, loraAirtimeMs, MAX_FRAGMENTS, maxFrameBytes,
  Reassembler, sealRecord, sha256, toHex, type LoraRadio,
} from '@sceau/protocol';
import { readVector } from './helpers/vectors.js';

const airtime = readVector('third-party/lora_airtime.json');
const radio = (sf: number, bwHz: number, cr: string): LoraRadio => ({
  kind: 'lora', spreadingFactor: sf, bandwidthHz: bwHz, codingRate: Number(cr.split('/')[1]) - 4 as 1,
  preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: sf >= 11 && bwHz === 125_000,
});

describe('link profiles and airtime', () => {
  it('ships the profiles of the design with their MTUs', () => {
    const mtus = Object.fromEntries(Object.values(linkProfiles).map((p) => [p.name, p.mtu]));
    expect(mtus).toMatchObject({
      'lorawan-eu868-dr0': 51, 'lorawan-eu868-dr1': 51, 'lorawan-eu868-dr2': 51, 'lorawan-eu868-dr3': 115, 'lorawan-eu868-dr4': 222, 'lorawan-eu868-dr5': 222,
      'lorawan-us915-dr0': 11, 'lorawan-us915-dr1': 53, 'lorawan-us915-dr2': 125, 'lorawan-us915-dr3': 242, 'lorawan-us915-dr4': 242,
      sigfox: 12,
    });
    expect(Object.keys(linkProfiles)).toEqual(expect.arrayContaining(['nbiot', 'udp', 'tcp']));
    expect(() => linkProfile('lorawan-eu433')).toThrow(/known: lorawan-eu868-dr0/);
  });

  it.each(airtime.thirdParty.vectors as any[])('The Things Stack toa_test: SF$sf $bwHz Hz CR $codingRate, $phyPayloadBytes-byte PHY payload', (v) => {
    expect(Math.round(loraAirtimeMs(radio(v.sf, v.bwHz, v.codingRate), v.phyPayloadBytes) * 1000)).toBe(v.expectedMicroseconds);
  });

  it.each(airtime.derived.vectors as any[])('AN1200.13: SF$sf, $frmPayloadBytes-byte FRMPayload', (v) => {
    expect(loraAirtimeMs(radio(v.sf, v.bwHz, v.codingRate), v.phyPayloadBytes) * 1000).toBeCloseTo(v.microseconds, 3);
  });

  it('airtimeMs adds LoRaWAN\'s 13 bytes: the published headline values', () => {
    expect(airtimeMs(linkProfile('lorawan-eu868-dr5'), 0)).toBeCloseTo(46.336, 3); // empty FRMPayload, 13-byte PHY
    expect(loraAirtimeMs(linkProfile('lorawan-eu868-dr5').radio as LoraRadio, 10)).toBeCloseTo(41.216, 3);
    expect(airtimeMs(linkProfile('lorawan-eu868-dr0'), 51)).toBeCloseTo(2793.472, 3);
    expect(airtimeMs(linkProfile('sigfox'), 12)).toBe(6240);
    expect(airtimeMs(linkProfile('udp'), 100)).toBe(0);
    expect(() => airtimeMs(linkProfile('sigfox'), -1)).toThrow(RangeError);
  });

  it('the duty cycle and budgets of regulated links are declared', () => {
    for (let dr = 0; dr <= 5; dr++) expect(linkProfile(`lorawan-eu868-dr${dr}`).dutyCycle).toBe(0.01);
    expect(linkProfile('sigfox').dailyUplinks).toBe(140);
    expect(linkProfile('lorawan-us915-dr0').maxDwellMs).toBe(400);
  });
});

describe('fragmentation', () => {
  const seed = sha256(Uint8Array.of(11));
  const frameOf = (n: number, counter = 9) =>
    sealRecord({ version: 1, counter, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: 1000 + i })) }, seed);

  it('sends a frame whole when it fits, else at most 16 fragments that each fit the MTU', () => {
    const frame = frameOf(3);
    expect(fragment(frame, linkProfile('lorawan-eu868-dr3'))).toEqual([frame]);
    const sigfox = fragment(frame, linkProfile('sigfox'));
    expect(sigfox.length).toBe(Math.ceil(frame.length / 11));
    sigfox.forEach((d, i) => {
      expect(d.length).toBeLessThanOrEqual(12);
      expect(d[0]! >> 4).toBe(9 % 8); // tag = counter mod 8
      expect(d[0]! & 15).toBe(sigfox.length - 1 - i); // count-down
    });
    expect(maxFrameBytes(linkProfile('sigfox'))).toBe(16 * 11);
    expect(() => fragment(frameOf(40), linkProfile('sigfox'))).toThrow(/at most 16/);
  });

  it('carries a 2-byte sender hint (from the kid) where the link does not name the sender', () => {
    const nbiotSmall = { ...linkProfile('nbiot'), mtu: 40 };
    const frame = frameOf(3);
    const parts = fragment(frame, nbiotSmall);
    expect(fragmentCapacity(nbiotSmall)).toBe(37);
    for (const p of parts) expect(toHex(p.subarray(1, 3))).toBe(toHex(frame.subarray(9, 11))); // kid starts at offset 9
    const noKid = sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }, { channel: 2, value: 2 }] }, seed, { kid: false });
    expect(() => fragment(noKid, { ...nbiotSmall, mtu: 20 })).toThrow(/hint/);
    expect(fragment(noKid, { ...nbiotSmall, mtu: 20 }, { hint: Uint8Array.of(1, 2) }).length).toBeGreaterThan(1);
  });

  it('reassembles with loss, duplicates and reordering, or counts an expiry (property, pinned seed)', () => {
    const profile = linkProfile('lorawan-eu868-dr0');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.record({ drop: fc.double({ min: 0, max: 1, noNaN: true }), dup: fc.boolean(), key: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 16, maxLength: 16 }),
        fc.integer({ min: 1, max: 1000 }),
        (readings, fate, counter) => {
          const frame = frameOf(readings, counter);
          const datagrams = fragment(frame, profile);
          const r = Reassembler.forProfile(profile, { expiryMs: 1000 });
          let sent: Array<{ d: Uint8Array; key: number }> = [];
          let lost = false;
          datagrams.forEach((d, i) => {
            const f = fate[i]!;
            if (f.drop < 0.15) {
              lost = true;
              return;
            }
            sent.push({ d, key: f.key });
            if (f.dup) sent.push({ d, key: f.key + 0.5 });
          });
          sent = sent.sort((a, b) => a.key - b.key);
          const frames = sent.map((s) => r.push(s.d, 10, 'dev-1')).filter((x) => x.kind === 'frame');
          if (lost) {
            expect(frames).toEqual([]);
            if (datagrams.length > 1 && sent.length > 0) {
              expect(r.expire(2000)).toBe(1);
              expect(r.stats()).toMatchObject({ expired: 1, pending: 0 });
            }
          } else {
            expect(frames.length).toBe(1);
            expect(toHex((frames[0] as { frame: Uint8Array }).frame)).toBe(toHex(frame));
            expect(r.stats().pending).toBe(0);
          }
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('never mixes fragments of two devices that use the same tag', () => {
    const profile = linkProfile('sigfox');
    const a = fragment(frameOf(3, 1), profile);
    const b = fragment(sealRecord({ version: 1, counter: 9, time: null, readings: [{ channel: 1, value: 5 }, { channel: 2, value: 6 }, { channel: 3, value: 7 }] }, sha256(Uint8Array.of(12))), profile);
    const r = Reassembler.forProfile(profile);
    const out: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const [d, src] of [[a[i], 'A'], [b[i], 'B']] as const) {
        if (d === undefined) continue;
        const res = r.push(d, 0, src);
        if (res.kind === 'frame') out.push(`${src}:${toHex(res.frame)}`);
      }
    }
    expect(out.sort()).toEqual([`A:${toHex(frameOf(3, 1))}`, `B:${toHex(sealRecord({ version: 1, counter: 9, time: null, readings: [{ channel: 1, value: 5 }, { channel: 2, value: 6 }, { channel: 3, value: 7 }] }, sha256(Uint8Array.of(12))))}`].sort());
  });

  it('a newer message reusing a tag replaces the stale one, which is counted', () => {
    const profile = linkProfile('sigfox');
    const first = fragment(frameOf(3, 1), profile);
    const second = fragment(frameOf(3, 9), profile); // same tag 1, same fragment count
    expect(second.length).toBe(first.length);
    const r = Reassembler.forProfile(profile);
    r.push(first[0]!, 0, 'x'); // the rest of the first message is lost
    r.push(first[1]!, 0, 'x');
    let got: Uint8Array | undefined;
    for (const d of second) {
      const res = r.push(d, 1, 'x');
      if (res.kind === 'frame') got = res.frame;
    }
    expect(got && toHex(got)).toBe(toHex(frameOf(3, 9)));
    expect(r.stats().expired).toBe(1);
  });

  it('bounds pending messages and refuses empty or headless datagrams', () => {
    const r = new Reassembler({ maxPending: 2 });
    for (let i = 0; i < 5; i++) r.push(Uint8Array.of(0x01, i), 0, `dev${i}`);
    expect(r.stats()).toMatchObject({ pending: 2, expired: 3 });
    expect(r.push(new Uint8Array(0), 0)).toMatchObject({ kind: 'invalid' });
    expect(r.push(Uint8Array.of(0x05), 0)).toMatchObject({ kind: 'invalid' });
    expect(MAX_FRAGMENTS).toBe(16);
    expect(() => new Reassembler({ expiryMs: 0 })).toThrow(RangeError);
  });

  it('holds no limit on size or origin unless asked, and counts what a limit refuses or gives up by reason', () => {
    const big = new Uint8Array(3001).fill(7);
    big[0] = 0x01; // a fragment of 3,000 bytes of frame
    const open = new Reassembler();
    expect(open.push(big, 0, 'a')).toEqual({ kind: 'pending' });
    expect(open.stats()).toMatchObject({ pending: 1, bytes: 3000 });
    const bounded = new Reassembler({ maxFrameBytes: 2048, maxPendingPerOrigin: 2 });
    expect(bounded.push(big, 0, 'a')).toMatchObject({ kind: 'invalid' });
    for (let i = 0; i < 4; i++) bounded.push(Uint8Array.of(0x01, i), 0, `dev${i}`, 'one-address');
    bounded.push(Uint8Array.of(0x01, 9), 0, 'other', 'another-address');
    const stats = bounded.stats();
    expect(stats).toMatchObject({ pending: 3, bytes: 3, expired: 2, invalid: 1 });
    expect(stats.dropped).toMatchObject({ 'fragment-too-large': 1, 'origin-limit': 2, 'pending-limit': 0 });
    expect(() => new Reassembler({ maxBytes: 0 })).toThrow(RangeError);
  });

  // Rule (docs/protocol.md#fragments): the header byte is `0 TTT NNNN`, TTT the record counter
  // mod 8, NNNN the fragments still to come. Derived here from the record, across the 3-bit wrap,
  // and checked against an explicit tag and against the header's bit 7 (a whole frame's marker).
  it('the tag is the counter mod 8 across the wrap, an explicit tag wins, and bit 7 is never set', () => {
    const profile = linkProfile('sigfox');
    for (const counter of [7, 8, 9, 15, 16, 23, 2 ** 32 - 1]) {
      const parts = fragment(frameOf(3, counter), profile);
      expect(parts.length).toBeGreaterThan(1);
      for (const [i, d] of parts.entries()) {
        expect(d[0]! & 0x80, `counter ${counter}`).toBe(0);
        expect(d[0]! >> 4, `counter ${counter}`).toBe(counter % 8);
        expect(d[0]! & 15).toBe(parts.length - 1 - i);
      }
      const tagged = fragment(frameOf(3, counter), profile, { tag: (counter + 3) % 8 });
      expect(tagged.map((d) => d[0]! >> 4)).toEqual(parts.map(() => (counter + 3) % 8));
    }
    expect(() => fragment(frameOf(3), profile, { tag: 8 })).toThrow(RangeError);
    expect(() => fragment(frameOf(3), profile, { tag: -1 })).toThrow(RangeError);
    // The key of the seed above signs what it fragments: the hint is its kid's first two bytes.
    const nbiot = { ...linkProfile('nbiot'), mtu: 40 };
    expect(toHex(fragment(frameOf(3), nbiot)[0]!.subarray(1, 3))).toBe(toHex(kidOf(getPublicKey(seed)).subarray(0, 2)));
  });
});
