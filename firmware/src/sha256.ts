// SHA-256 (FIPS 180-4), one-shot, for the kid (first 8 bytes of SHA-256 of the public key).
import * as ds from "@devicescript/core"
import { be32, put32 } from "./sha512"

const K = hex`
428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5 d807aa98 12835b01 243185be
550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174 e49b69c1 efbe4786 0fc19dc6 240ca1cc 2de92c6f 4a7484aa
5cb0a9dc 76f988da 983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967 27b70a85
2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85 a2bfe8a1 a81a664b c24b8b70 c76c51a3
d192e819 d6990624 f40e3585 106aa070 19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f
682e6ff3 748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2
`

function rotr(x: number, n: number): number {
    return (x >>> n) | (x << (32 - n))
}

function compress(h: number[], w: number[], blk: Buffer, off: number): void {
    for (let t = 0; t < 64; t++) {
        if (t < 16) w[t] = be32(blk, off + 4 * t)
        else {
            const x = w[t - 2]
            const y = w[t - 15]
            const s1 = rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10)
            const s0 = rotr(y, 7) ^ rotr(y, 18) ^ (y >>> 3)
            w[t] = (s1 + w[t - 7] + s0 + w[t - 16]) >>> 0
        }
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
    for (let t = 0; t < 64; t++) {
        const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
        const ch = (e & f) ^ (~e & g)
        const t1 = hh + S1 + ch + be32(K, 4 * t) + w[t]
        const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
        const mj = (a & b) ^ (a & c) ^ (b & c)
        hh = g
        g = f
        f = e
        e = (d + t1) >>> 0
        d = c
        c = b
        b = a
        a = (t1 + S0 + mj) >>> 0
    }
    h[0] = (h[0] + a) >>> 0
    h[1] = (h[1] + b) >>> 0
    h[2] = (h[2] + c) >>> 0
    h[3] = (h[3] + d) >>> 0
    h[4] = (h[4] + e) >>> 0
    h[5] = (h[5] + f) >>> 0
    h[6] = (h[6] + g) >>> 0
    h[7] = (h[7] + hh) >>> 0
}

export async function sha256(data: Buffer): Promise<Buffer> {
    const h = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    const w: number[] = []
    for (let i = 0; i < 64; i++) w.push(0)
    // padded message: data, 0x80, zeros, 64-bit big-endian bit length
    const n = data.length
    const total = (((n + 9 + 63) >> 6) << 6)
    const msg = Buffer.alloc(total)
    msg.blitAt(0, data, 0, n)
    msg[n] = 0x80
    put32(msg, total - 8, Math.floor((n * 8) / 4294967296))
    put32(msg, total - 4, (n * 8) >>> 0)
    for (let off = 0; off < total; off += 64) {
        compress(h, w, msg, off)
        await ds.sleep(0)
    }
    const out = Buffer.alloc(32)
    for (let i = 0; i < 8; i++) put32(out, 4 * i, h[i])
    return out
}
