import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as noble from '@noble/ed25519';
import {
  fromHex, getPublicKey, kidOf, nobleBackend, nodeBackend, sha256, signEd25519, SMALL_ORDER_ENCODINGS, toHex,
  useCryptoBackend, verifyEd25519, verifyEd25519Async, cryptoBackend,
} from '@sceau/protocol';
import { readVector } from './helpers/vectors.js';

const backends = [nodeBackend!, nobleBackend];
const rfc8032 = readVector('rfc8032.json').vectors as Array<{ name: string; secretKey: string; publicKey: string; message: string; signature: string }>;
const wycheproof = readVector('third-party/ed25519_test.json');

describe('Ed25519 backends', () => {
  it('node:crypto is the default in Node', () => {
    expect(nodeBackend).toBeDefined();
    expect(cryptoBackend()).toBe('node');
  });

  for (const backend of backends) {
    describe(`${backend.name} backend`, () => {
      it.each(rfc8032)('RFC 8032 $name: public key, signature and verification', (v) => {
        const seed = fromHex(v.secretKey);
        expect(toHex(backend.publicKeyOf(seed))).toBe(v.publicKey);
        expect(toHex(backend.sign(seed, fromHex(v.message)))).toBe(v.signature);
        expect(verifyEd25519(fromHex(v.publicKey), fromHex(v.message), fromHex(v.signature), backend)).toBe(true);
      });

      it('agrees with every Wycheproof ed25519_test.json verdict (151 tests)', () => {
        let count = 0;
        for (const group of wycheproof.testGroups) {
          const pk = fromHex(group.publicKey.pk);
          for (const t of group.tests) {
            const ok = verifyEd25519(pk, fromHex(t.msg), fromHex(t.sig), backend);
            expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(t.result === 'valid');
            count++;
          }
        }
        expect(count).toBe(wycheproof.numberOfTests);
      });

      it('verifyEd25519Async gives every Wycheproof verdict too, all checks started at once, never before returning', async () => {
        const checks: Array<Promise<boolean>> = [];
        const expected: boolean[] = [];
        let returned = false;
        let early = 0;
        for (const group of wycheproof.testGroups) {
          const pk = fromHex(group.publicKey.pk);
          for (const t of group.tests) {
            checks.push(new Promise((resolve) => verifyEd25519Async(pk, fromHex(t.msg), fromHex(t.sig), (ok) => {
              if (!returned) early++;
              resolve(ok);
            }, backend)));
            expected.push(t.result === 'valid');
          }
        }
        returned = true;
        expect(await Promise.all(checks)).toEqual(expected);
        expect(early).toBe(0);
      });
    });
  }

  it('SHA-256 of "abc" is the FIPS 180-2 value on both backends', () => {
    const abc = Uint8Array.of(0x61, 0x62, 0x63);
    for (const backend of backends) expect(toHex(backend.sha256(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('the small-order list is exactly the 8-torsion of the curve, plus the two x=0 encodings with the sign bit', () => {
    // Points of order dividing 8: multiples of a point of order 8, found by clearing the prime-order part.
    const torsion = new Set<string>();
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    for (let seed = 1; torsion.size < 8 && seed < 50; seed++) {
      let candidate: noble.Point;
      try {
        candidate = noble.Point.fromBytes(sha256(Uint8Array.of(seed)), false);
      } catch {
        continue;
      }
      const t = candidate.multiply(L - 1n, false).add(candidate); // [L]P: the torsion part of P
      let p = noble.Point.ZERO;
      for (let i = 0; i < 8; i++) {
        torsion.add(toHex(p.toBytes()));
        p = p.add(t);
      }
    }
    const listed = new Set(SMALL_ORDER_ENCODINGS.slice(0, 8));
    expect(torsion).toEqual(listed);
    for (const hex of SMALL_ORDER_ENCODINGS) {
      const key = fromHex(hex);
      for (const backend of backends) expect(verifyEd25519(key, new Uint8Array(0), new Uint8Array(64), backend)).toBe(false);
    }
  });

  it('refuses non-canonical public keys (y >= p) even when the point would decode', () => {
    const nonCanonical = fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'); // y = p + 1 = 1 (mod p)
    const seed = sha256(Uint8Array.of(1));
    const sig = signEd25519(seed, Uint8Array.of(1));
    for (const backend of backends) expect(verifyEd25519(nonCanonical, Uint8Array.of(1), sig, backend)).toBe(false);
  });

  it('wrong lengths are false, not exceptions; non-bytes are TypeErrors', () => {
    const seed = sha256(Uint8Array.of(2));
    const pk = getPublicKey(seed);
    const sig = signEd25519(seed, Uint8Array.of(9));
    expect(verifyEd25519(pk.subarray(0, 31), Uint8Array.of(9), sig)).toBe(false);
    expect(verifyEd25519(pk, Uint8Array.of(9), sig.subarray(0, 63))).toBe(false);
    expect(() => verifyEd25519('00' as never, Uint8Array.of(9), sig)).toThrow(TypeError);
    expect(() => getPublicKey(new Uint8Array(31))).toThrow(/secretKey: expected Uint8Array of length 32, got length=31/);
  });

  it('both backends agree on random keys, messages and mutated signatures (property, pinned seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(511), fc.boolean(), (seed, message, bit, mutate) => {
        const pk = getPublicKey(seed);
        const sig = signEd25519(seed, message);
        if (mutate) sig[bit >> 3]! ^= 1 << (bit & 7);
        const verdicts = backends.map((b) => verifyEd25519(pk, message, sig, b));
        expect(verdicts[0]).toBe(verdicts[1]);
        expect(verdicts[0]).toBe(!mutate);
      }),
      { seed: 20261128, numRuns: 300 },
    );
  });

  it('useCryptoBackend switches backends and signatures stay identical', () => {
    const seed = sha256(Uint8Array.of(3));
    const msg = Uint8Array.of(1, 2, 3);
    try {
      useCryptoBackend('noble');
      const a = signEd25519(seed, msg);
      const kidA = kidOf(getPublicKey(seed));
      useCryptoBackend('node');
      expect(toHex(signEd25519(seed, msg))).toBe(toHex(a));
      expect(toHex(kidOf(getPublicKey(seed)))).toBe(toHex(kidA));
      expect(() => useCryptoBackend('wasm' as never)).toThrow(RangeError);
    } finally {
      useCryptoBackend('node');
    }
  });

  it('returns plain Uint8Array, never Buffer', () => {
    const seed = sha256(Uint8Array.of(4));
    for (const value of [getPublicKey(seed), signEd25519(seed, Uint8Array.of(1)), kidOf(getPublicKey(seed)), sha256(seed)]) {
      expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
    }
  });
});
