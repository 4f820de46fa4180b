// Ed25519 signing (RFC 8032 PureEdDSA) for the DeviceScript VM.
// Fixed-base scalar multiplication uses the ref10 comb: 64 signed radix-16 digits, a table of
// 8 multiples of 256^i * B (src/ed25519-table.ts, 24 KiB in flash), 64 mixed additions and
// 4 doublings. All temporaries are preallocated once, so signing allocates almost nothing.
// Not constant-time: a VM gives no such guarantee anyway (see README, "Security notes").
import * as ds from "@devicescript/core"
import { Fe, feNew, feMul, feSqr, feAdd, feSub, feCopy, feSetSmall } from "./fe"
import { BASE_TABLE } from "./ed25519-table"
import { Sha512 } from "./sha512"

// extended point (X, Y, Z, T)
const PX = feNew()
const PY = feNew()
const PZ = feNew()
const PT = feNew()
// precomputed affine point (y+x, y-x, 2dxy)
const QP = feNew()
const QM = feNew()
const QD = feNew()
const tA = feNew()
const tB = feNew()
const tC = feNew()
const tD = feNew()
const tE = feNew()
const tF = feNew()
const tG = feNew()
const tH = feNew()
// inversion temporaries
const i0 = feNew()
const i1 = feNew()
const i2 = feNew()
const i3 = feNew()
const digits: number[] = []
for (let i = 0; i < 64; i++) digits.push(0)

// Q = table[i][|d|-1] (negated when d < 0); d in -8..8, d != 0
function loadPoint(i: number, d: number): void {
    const neg = d < 0
    const off = (i * 8 + (neg ? -d : d) - 1) * 96
    const yp = neg ? QM : QP
    const ym = neg ? QP : QM
    const t = BASE_TABLE
    for (let k = 0; k < 16; k++) {
        yp[k] = t.getAt(off + 2 * k, "u16")
        ym[k] = t.getAt(off + 32 + 2 * k, "u16")
        const v = t.getAt(off + 64 + 2 * k, "u16")
        QD[k] = neg ? -v : v
    }
}

// P = P + Q (Q affine precomputed), "madd-2008-hwcd-3" for a = -1
function addQ(): void {
    feSub(tA, PY, PX)
    feMul(tA, tA, QM)
    feAdd(tB, PY, PX)
    feMul(tB, tB, QP)
    feMul(tC, PT, QD)
    feAdd(tD, PZ, PZ)
    feSub(tE, tB, tA)
    feSub(tF, tD, tC)
    feAdd(tG, tD, tC)
    feAdd(tH, tB, tA)
    feMul(PX, tE, tF)
    feMul(PY, tG, tH)
    feMul(PZ, tF, tG)
    feMul(PT, tE, tH)
}

// P = 2P, "dbl-2008-hwcd" for a = -1
function double(): void {
    feSqr(tA, PX)
    feSqr(tB, PY)
    feSqr(tC, PZ)
    feAdd(tC, tC, tC)
    feAdd(tH, PX, PY)
    feSqr(tE, tH)
    feSub(tE, tE, tA)
    feSub(tE, tE, tB) // E = (X+Y)^2 - A - B
    feSub(tG, tB, tA) // G = -A + B
    feSub(tF, tG, tC) // F = G - C
    feAdd(tH, tA, tB)
    feSub(tH, feZero, tH) // H = -A - B
    feMul(PX, tE, tF)
    feMul(PY, tG, tH)
    feMul(PZ, tF, tG)
    feMul(PT, tE, tH)
}
const feZero = feNew()

async function sqrN(o: Fe, a: Fe, n: number): Promise<void> {
    feSqr(o, a)
    for (let i = 1; i < n; i++) {
        feSqr(o, o)
        if ((i & 7) === 0) await ds.sleep(0)
    }
}

// o = z^(p-2), the ref10 addition chain: 254 squarings, 11 multiplications
async function feInvert(o: Fe, z: Fe): Promise<void> {
    feSqr(i0, z) // 2
    feSqr(i1, i0)
    feSqr(i1, i1) // 8
    feMul(i1, z, i1) // 9
    feMul(i0, i0, i1) // 11
    feSqr(i2, i0) // 22
    feMul(i1, i1, i2) // 2^5 - 1
    await sqrN(i2, i1, 5)
    feMul(i1, i2, i1) // 2^10 - 1
    await sqrN(i2, i1, 10)
    feMul(i2, i2, i1) // 2^20 - 1
    await sqrN(i3, i2, 20)
    feMul(i2, i3, i2) // 2^40 - 1
    await sqrN(i2, i2, 10)
    feMul(i1, i2, i1) // 2^50 - 1
    await sqrN(i2, i1, 50)
    feMul(i2, i2, i1) // 2^100 - 1
    await sqrN(i3, i2, 100)
    feMul(i2, i3, i2) // 2^200 - 1
    await sqrN(i2, i2, 50)
    feMul(i2, i2, i1) // 2^250 - 1
    await sqrN(i2, i2, 5)
    feMul(o, i2, i0) // 2^255 - 21
}

// fully reduce a (carried) field element and write it as 32 bytes little-endian
function fePack(out: Buffer, off: number, a: Fe): void {
    const t = tA
    feCopy(t, a)
    // three carry rounds (as TweetNaCl's pack25519) leave every limb in [0, 2^16), then p is
    // subtracted twice, keeping the result when it does not borrow
    for (let r = 0; r < 3; r++) {
        let c = 0
        for (let i = 0; i < 16; i++) {
            const v = t[i] + c
            t[i] = v & 65535
            c = (v - t[i]) / 65536
        }
        t[0] += 38 * c
    }
    const m = tB
    for (let r = 0; r < 2; r++) {
        m[0] = t[0] - 0xffed
        for (let i = 1; i < 15; i++) {
            m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1)
            m[i - 1] &= 0xffff
        }
        m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1)
        const borrow = (m[15] >> 16) & 1
        m[14] &= 0xffff
        if (borrow === 0) feCopy(t, m)
    }
    for (let i = 0; i < 16; i++) {
        out[off + 2 * i] = t[i] & 255
        out[off + 2 * i + 1] = t[i] >> 8
    }
}

/** out[off..off+32] = encoding of s * B, s = 32 bytes little-endian with s < 2^255. */
async function scalarMultBase(out: Buffer, off: number, s: Buffer): Promise<void> {
    const e = digits
    for (let i = 0; i < 32; i++) {
        e[2 * i] = s[i] & 15
        e[2 * i + 1] = (s[i] >> 4) & 15
    }
    // signed digits in -8..8
    let carry = 0
    for (let i = 0; i < 63; i++) {
        e[i] += carry
        carry = (e[i] + 8) >> 4
        e[i] -= carry << 4
    }
    e[63] += carry
    // P = identity
    feSetSmall(PX, 0)
    feSetSmall(PY, 1)
    feSetSmall(PZ, 1)
    feSetSmall(PT, 0)
    for (let i = 1; i < 64; i += 2) {
        if (e[i] !== 0) {
            loadPoint(i >> 1, e[i])
            addQ()
        }
        await ds.sleep(0)
    }
    double()
    double()
    double()
    double()
    await ds.sleep(0)
    for (let i = 0; i < 64; i += 2) {
        if (e[i] !== 0) {
            loadPoint(i >> 1, e[i])
            addQ()
        }
        await ds.sleep(0)
    }
    // affine: x = X/Z, y = Y/Z; encoding = y with the sign of x in bit 255
    await feInvert(tD, PZ)
    feMul(tE, PX, tD)
    feMul(tF, PY, tD)
    fePack(out, off, tE)
    const sign = out[off] & 1
    fePack(out, off, tF)
    out[off + 31] |= sign << 7
}

// L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes (RFC 8032 5.1)
const L = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]
const X64: number[] = []
for (let i = 0; i < 64; i++) X64.push(0)

// r = x mod L, x in X64 as 64 signed byte-sized limbs (TweetNaCl modL)
function modL(r: Buffer, roff: number, x: number[]): void {
    for (let i = 63; i >= 32; --i) {
        let carry = 0
        let j = i - 32
        const k = i - 12
        const xi = 16 * x[i]
        for (; j < k; ++j) {
            const v = x[j] + carry - xi * L[j - (i - 32)]
            carry = Math.floor((v + 128) / 256)
            x[j] = v - carry * 256
        }
        x[j] += carry
        x[i] = 0
    }
    let carry = 0
    const top = x[31] >> 4
    for (let j = 0; j < 32; j++) {
        const v = x[j] + carry - top * L[j]
        carry = v >> 8
        x[j] = v & 255
    }
    for (let j = 0; j < 32; j++) x[j] -= carry * L[j]
    for (let i = 0; i < 32; i++) {
        x[i + 1] += x[i] >> 8
        r[roff + i] = x[i] & 255
    }
}

function reduce64(h: Buffer): Buffer {
    const x = X64
    for (let i = 0; i < 64; i++) x[i] = h[i]
    const r = Buffer.alloc(32)
    modL(r, 0, x)
    return r
}

/** An expanded secret key: clamped scalar, prefix and public key (RFC 8032 5.1.5). */
export interface Ed25519Key {
    scalar: Buffer
    prefix: Buffer
    publicKey: Buffer
}

export async function ed25519ExpandKey(seed: Buffer): Promise<Ed25519Key> {
    const hs = new Sha512()
    await hs.update(seed, 0, 32)
    const h = await hs.digest()
    const a = h.slice(0, 32)
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    const pub = Buffer.alloc(32)
    await scalarMultBase(pub, 0, a)
    return { scalar: a, prefix: h.slice(32, 64), publicKey: pub }
}

/**
 * Signs the message made of `parts` (concatenated; passing parts avoids copying a large
 * message into one buffer) with an expanded key; returns the 64-byte signature R || S.
 */
export async function ed25519SignParts(key: Ed25519Key, parts: Buffer[]): Promise<Buffer> {
    let hs = new Sha512()
    await hs.update(key.prefix, 0, 32)
    for (const p of parts) await hs.update(p, 0, p.length)
    const r = reduce64(await hs.digest())
    const sig = Buffer.alloc(64)
    await scalarMultBase(sig, 0, r)
    hs = new Sha512()
    await hs.update(sig, 0, 32)
    await hs.update(key.publicKey, 0, 32)
    for (const p of parts) await hs.update(p, 0, p.length)
    const k = reduce64(await hs.digest())
    await ds.sleep(0)
    // S = (r + k * a) mod L
    const x = X64
    for (let i = 0; i < 64; i++) x[i] = i < 32 ? r[i] : 0
    const a = key.scalar
    for (let i = 0; i < 32; i++) {
        const ki = k[i]
        for (let j = 0; j < 32; j++) x[i + j] += ki * a[j]
    }
    await ds.sleep(0)
    modL(sig, 32, x)
    return sig
}

export async function ed25519Sign(key: Ed25519Key, msg: Buffer): Promise<Buffer> {
    return await ed25519SignParts(key, [msg])
}
