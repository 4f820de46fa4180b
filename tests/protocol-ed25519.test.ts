import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as noble from '@noble/ed25519';
import {
  fromHex, getPublicKey, kidOf, nobleBackend, nodeBackend, sha256, signEd25519, SMALL_ORDER_ENCODINGS, toHex,
  useCryptoBackend, verifyEd25519, verifyEd25519Async, cryptoBackend, type Ed25519Backend,
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

// --- The strict policy checked on its own (issue 19) --------------------------------------------
// A permissive verifier (the curve equation alone, as OpenSSL and ZIP-215 compute it) accepts
// signatures that strict RFC 8032 verification must refuse. Each case below is a signature that
// is valid apart from the rule it breaks, so deleting or loosening that one check in
// protocol/src/ed25519.ts makes the test fail.

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const leToBig = (b: Uint8Array): bigint => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
const bigToLe = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};

/** The point a key encoding denotes, reading y mod p and x = 0 with either sign (what OpenSSL does). */
function lenientPoint(key: Uint8Array): noble.Point {
  try {
    return noble.Point.fromBytes(key, false);
  } catch {
    const y = leToBig(key.slice(0, 31)) + (BigInt(key[31]! & 0x7f) << 248n);
    return noble.Point.fromBytes(bigToLe(y % P), false); // every case here has x = 0, so the sign is moot
  }
}

/**
 * A forgery under a key of small order: [k]A is one of at most 8 points T, so pick S, set
 * R = [S]B - T and retry until H(R || A || M) lands on that T. No secret key is involved.
 */
function forgeUnder(key: Uint8Array, message: Uint8Array): Uint8Array {
  const A = lenientPoint(key);
  for (let s = 1n; s < 1000n; s++) {
    const S = (s * 0x9e3779b97f4a7c15n) % L;
    let T = noble.Point.ZERO;
    for (let j = 0; j < 8; j++, T = T.add(A)) {
      const R = noble.Point.BASE.multiply(S).subtract(T).toBytes();
      const k = leToBig(noble.hashes.sha512!(Uint8Array.from([...R, ...key, ...message]))) % L;
      let kA = noble.Point.ZERO;
      for (let i = 0n; i < k % 8n; i++) kA = kA.add(A);
      if (kA.equals(T)) return Uint8Array.from([...R, ...bigToLe(S)]);
    }
  }
  throw new Error('no forgery found');
}

/** Accepts every signature (the equation always holds): what remains is the policy alone. */
function permissive(): Ed25519Backend & { calls: number } {
  const backend = {
    name: 'noble' as const,
    calls: 0,
    sha256: nobleBackend.sha256,
    publicKeyOf: nobleBackend.publicKeyOf,
    sign: nobleBackend.sign,
    verifyEquation: () => {
      backend.calls++;
      return true;
    },
  };
  return backend;
}

describe('Ed25519 strict policy (RFC 8032 §5.1.7 as docs/protocol.md states it), each check on its own', () => {
  const message = Uint8Array.of(0x73, 0x63, 0x65, 0x61, 0x75);
  const yNonCanonical = (y: bigint, sign: boolean) => {
    const key = bigToLe(P + y);
    if (sign) key[31]! |= 0x80;
    return toHex(key);
  };
  // The 8 small-order points and the x = 0 encodings with the sign bit (the list), and the
  // non-canonical encodings y = p (the point of order 4 with y = 0) and y = p + 1 (the identity).
  const forgeable = [...SMALL_ORDER_ENCODINGS, yNonCanonical(0n, false), yNonCanonical(0n, true), yNonCanonical(1n, false), yNonCanonical(1n, true)];

  it.each(forgeable)('rule "small-order / non-canonical public keys are refused": a forgery under %s passes OpenSSL\'s equation and is refused', async (hex) => {
    const key = fromHex(hex);
    const sig = forgeUnder(key, message);
    // Valid apart from the key: node:crypto's equation (OpenSSL) accepts it.
    expect(nodeBackend!.verifyEquation(key, message, sig)).toBe(true);
    expect(verifyEd25519(key, message, sig)).toBe(false); // the default backend
    for (const backend of backends) expect(verifyEd25519(key, message, sig, backend)).toBe(false);
    const spy = permissive();
    expect(verifyEd25519(key, message, sig, spy)).toBe(false);
    expect(await new Promise((resolve) => verifyEd25519Async(key, message, sig, resolve, spy))).toBe(false);
    expect(spy.calls).toBe(0); // refused by the policy, before any equation
  });

  it('rule "small-order public keys are refused": the identity key forgery also passes noble\'s equation', () => {
    const identity = fromHex(SMALL_ORDER_ENCODINGS[0]!);
    const sig = forgeUnder(identity, message);
    expect(nobleBackend.verifyEquation(identity, message, sig)).toBe(true);
    expect(verifyEd25519(identity, message, sig, nobleBackend)).toBe(false);
  });

  it('rule "A is canonical (y < p)": keys at the boundary, byte by byte, under a permissive equation', () => {
    const accepts = (hex: string) => {
      const spy = permissive();
      const ok = verifyEd25519(fromHex(hex), message, new Uint8Array(64), spy);
      expect(spy.calls).toBe(ok ? 1 : 0);
      return ok;
    };
    const ff = 'ff'.repeat(30);
    expect(accepts(`eb${ff}7f`)).toBe(true); // y = p - 2
    expect(accepts(`eb${ff}ff`)).toBe(true); // y = p - 2, sign bit set
    expect(accepts(`ec${ff}7f`)).toBe(false); // y = p - 1: listed (order 2)
    expect(accepts(`ed${ff}7f`)).toBe(false); // y = p
    expect(accepts(`ff${ff}7f`)).toBe(false); // y = p + 18
    expect(accepts(`ff${ff}ff`)).toBe(false); // y = p + 18, sign bit set
    expect(accepts(`ed${'ff'.repeat(29)}fe7f`)).toBe(true); // byte 30 below 0xff: y < p
    expect(accepts(`edfe${'ff'.repeat(29)}7f`)).toBe(true); // byte 1 below 0xff: y < p
    expect(accepts(`ff${ff}7e`)).toBe(true); // byte 31 below 0x7f: y < p
    expect(accepts('01'.repeat(32))).toBe(true);
  });

  it('rule "lengths: a 32-byte key and a 64-byte signature", under a permissive equation', () => {
    const spy = permissive();
    const key = getPublicKey(sha256(Uint8Array.of(5)));
    expect(verifyEd25519(key, message, new Uint8Array(64), spy)).toBe(true);
    expect(verifyEd25519(Uint8Array.from([...key, 0]), message, new Uint8Array(64), spy)).toBe(false);
    expect(verifyEd25519(key.subarray(0, 31), message, new Uint8Array(64), spy)).toBe(false);
    expect(verifyEd25519(key, message, new Uint8Array(65), spy)).toBe(false);
    expect(verifyEd25519(key, message, new Uint8Array(63), spy)).toBe(false);
    expect(spy.calls).toBe(1);
  });

  describe('rule "S < L", checked by sceau before the equation, on the default (node:crypto) backend', () => {
    const seed = sha256(Uint8Array.of(6));
    const key = getPublicKey(seed);
    const withS = (S: bigint) => {
      const sig = signEd25519(seed, message);
      sig.set(bigToLe(S), 32);
      return sig;
    };
    /** The default backend, counting the equations it computes: a refusal with no count is sceau's own. */
    const counting = () => {
      const counted = { ...nodeBackend!, calls: 0 };
      counted.verifyEquation = (a, m, s) => {
        counted.calls++;
        return nodeBackend!.verifyEquation(a, m, s);
      };
      return counted;
    };

    it('S + L of a valid signature (the same [S]B) is refused by the check and never handed to OpenSSL', async () => {
      expect(cryptoBackend()).toBe('node');
      const good = signEd25519(seed, message);
      const S = leToBig(good.subarray(32));
      const b = counting();
      expect(verifyEd25519(key, message, good, b)).toBe(true);
      expect(b.calls).toBe(1);
      expect(verifyEd25519(key, message, withS(S + L), b)).toBe(false);
      expect(verifyEd25519(key, message, withS(S + L))).toBe(false);
      expect(await new Promise((resolve) => verifyEd25519Async(key, message, withS(S + L), resolve, b))).toBe(false);
      expect(b.calls).toBe(1); // OpenSSL never saw it: the refusal was sceau's check
    });

    it('the boundary, byte by byte: L - 1 passes to the equation, L and above do not', () => {
      const passes = (S: bigint) => {
        const spy = permissive();
        const ok = verifyEd25519(key, message, withS(S), spy);
        expect(spy.calls).toBe(ok ? 1 : 0);
        return ok;
      };
      expect(passes(0n)).toBe(true);
      expect(passes(L - 1n)).toBe(true); // differs from L in the lowest byte only
      expect(passes(L)).toBe(false);
      expect(passes(L + 1n)).toBe(false);
      expect(passes(L - (1n << 120n))).toBe(true); // byte 15 below L's
      expect(passes(L + (1n << 120n))).toBe(false); // byte 15 above L's
      expect(passes(L - (1n << 248n))).toBe(true); // top byte below L's
      expect(passes((1n << 256n) - 1n)).toBe(false);
      expect(passes(2n ** 252n)).toBe(true); // 2^252 < L
    });
  });

  it('the key check is cached per array, yet a caller that changes the array in place is checked again', () => {
    const spy = permissive();
    const key = getPublicKey(sha256(Uint8Array.of(7)));
    expect(verifyEd25519(key, message, new Uint8Array(64), spy)).toBe(true);
    expect(verifyEd25519(key, message, new Uint8Array(64), spy)).toBe(true);
    key.set(fromHex(SMALL_ORDER_ENCODINGS[0]!)); // now the identity
    expect(verifyEd25519(key, message, new Uint8Array(64), spy)).toBe(false);
    key.set(getPublicKey(sha256(Uint8Array.of(7))));
    expect(verifyEd25519(key, message, new Uint8Array(64), spy)).toBe(true);
    expect(spy.calls).toBe(3);
  });
});

// Rule: the backends' caches (KeyObjects by key array, secret keys by seed array) never answer for
// bytes other than the ones passed now, and a key that is not a curve point is `false`.
describe('Ed25519 backend caches and non-points', () => {
  const message = Uint8Array.of(1, 9);

  it('a seed array changed in place signs with the new seed, on both backends', () => {
    for (const backend of backends) {
      const seed = sha256(Uint8Array.of(30));
      const first = backend.sign(seed, message);
      const firstKey = backend.publicKeyOf(seed);
      seed.set(sha256(Uint8Array.of(31)));
      expect(toHex(backend.sign(seed, message)), backend.name).toBe(toHex(nobleBackend.sign(sha256(Uint8Array.of(31)), message)));
      expect(toHex(backend.publicKeyOf(seed)), backend.name).toBe(toHex(nobleBackend.publicKeyOf(sha256(Uint8Array.of(31)))));
      expect(toHex(first)).not.toBe(toHex(backend.sign(seed, message)));
      expect(toHex(firstKey)).not.toBe(toHex(backend.publicKeyOf(seed)));
    }
  });

  it('a public key array changed in place is checked as the new key, sync and async', async () => {
    for (const backend of backends) {
      const seedA = sha256(Uint8Array.of(32));
      const seedB = sha256(Uint8Array.of(33));
      const key = getPublicKey(seedA);
      const sigA = signEd25519(seedA, message);
      const sigB = signEd25519(seedB, message);
      expect(verifyEd25519(key, message, sigA, backend)).toBe(true);
      expect(verifyEd25519(key, message, sigB, backend)).toBe(false);
      key.set(getPublicKey(seedB));
      expect(verifyEd25519(key, message, sigB, backend), backend.name).toBe(true);
      expect(verifyEd25519(key, message, sigA, backend), backend.name).toBe(false);
      expect(await new Promise((resolve) => verifyEd25519Async(key, message, sigB, resolve, backend))).toBe(true);
      // The same bytes in a new array hit the by-hex cache of the node backend and agree.
      expect(verifyEd25519(Uint8Array.from(key), message, sigB, backend)).toBe(true);
    }
  });

  it('canonical keys that are not curve points are false on both backends, sync and async, never an exception', async () => {
    const notPoints: Uint8Array[] = [];
    for (let y = 2; notPoints.length < 5; y++) {
      const key = new Uint8Array(32);
      key[0] = y;
      try {
        noble.Point.fromBytes(key, false);
      } catch {
        notPoints.push(key);
      }
    }
    const sig = signEd25519(sha256(Uint8Array.of(34)), message);
    for (const key of notPoints) {
      for (const backend of backends) {
        expect(backend.verifyEquation(key, message, sig), `${backend.name} ${toHex(key)}`).toBe(false);
        expect(verifyEd25519(key, message, sig, backend)).toBe(false);
        let early = true;
        const verdict = new Promise((resolve) => verifyEd25519Async(key, message, sig, (ok) => resolve([ok, early]), backend));
        early = false;
        expect(await verdict).toEqual([false, false]); // false, and called only after returning
      }
    }
  });

  it('useCryptoBackend names what it expects', () => {
    expect(() => useCryptoBackend('wasm' as never)).toThrow(new RangeError("crypto backend: expected 'node' or 'noble', got wasm"));
    expect(cryptoBackend()).toBe('node');
    try {
      useCryptoBackend('noble');
      expect(cryptoBackend()).toBe('noble');
      const seed = sha256(Uint8Array.of(35));
      expect(verifyEd25519(getPublicKey(seed), message, signEd25519(seed, message))).toBe(true);
      expect(toHex(kidOf(getPublicKey(seed)))).toBe(toHex(nobleBackend.sha256(getPublicKey(seed)).slice(0, 8)));
    } finally {
      useCryptoBackend('node');
    }
    expect(cryptoBackend()).toBe('node');
  });

  it('sha256, kidOf, signEd25519 and verifyEd25519 name the argument that is not bytes of the right length', () => {
    expect(() => sha256('abc' as never)).toThrow(/^message: expected Uint8Array, got /);
    expect(() => kidOf(new Uint8Array(31))).toThrow(new TypeError('publicKey: expected Uint8Array of length 32, got length=31'));
    expect(() => signEd25519(new Uint8Array(32), 'm' as never)).toThrow(/^message: expected Uint8Array, got /);
    expect(() => signEd25519(new Uint8Array(33), message)).toThrow(new TypeError('secretKey: expected Uint8Array of length 32, got length=33'));
    expect(() => verifyEd25519('k' as never, message, new Uint8Array(64))).toThrow(/^publicKey: expected Uint8Array, got /);
    expect(() => verifyEd25519(new Uint8Array(32), 'm' as never, new Uint8Array(64))).toThrow(/^message: expected Uint8Array, got /);
    expect(() => verifyEd25519(new Uint8Array(32), message, 's' as never)).toThrow(/^signature: expected Uint8Array, got /);
    expect(kidOf(getPublicKey(sha256(Uint8Array.of(36)))).length).toBe(8);
  });

  it('verifyEd25519Async hands the equation to the backend\'s own async check when it has one', async () => {
    const seed = sha256(Uint8Array.of(37));
    const key = getPublicKey(seed);
    const sig = signEd25519(seed, message);
    const calls: string[] = [];
    const backend: Ed25519Backend = {
      ...nodeBackend!,
      verifyEquation: (a, m, s) => {
        calls.push('sync');
        return nodeBackend!.verifyEquation(a, m, s);
      },
      verifyEquationAsync: (a, m, s, done) => {
        calls.push('async');
        nodeBackend!.verifyEquationAsync!(a, m, s, done);
      },
    };
    expect(await new Promise((resolve) => verifyEd25519Async(key, message, sig, resolve, backend))).toBe(true);
    expect(calls).toEqual(['async']);
    const { verifyEquationAsync: _, ...syncOnly } = backend;
    expect(await new Promise((resolve) => verifyEd25519Async(key, message, sig, resolve, syncOnly))).toBe(true);
    expect(calls).toEqual(['async', 'sync']);
  });
});
