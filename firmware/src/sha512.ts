// SHA-512 (FIPS 180-4) for the DeviceScript VM, which has no BigInt: every 64-bit word is a pair
// of 32-bit halves (hi, lo). Sums of lo halves are exact in float64; the carry into hi is
// (sum - (sum >>> 0)) / 2^32. One block is about 20k VM opcodes, so `update` yields once per
// block to stay far below the VM's per-slice opcode limit.
import * as ds from "@devicescript/core"

// K[t] as hi, lo pairs (FIPS 180-4 section 4.2.3)
const K = hex`
428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc 3956c25bf348b538 59f111f1b605d019
923f82a4af194f9b ab1c5ed5da6d8118 d807aa98a3030242 12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2
72be5d74f27b896f 80deb1fe3b1696b1 9bdc06a725c71235 c19bf174cf692694 e49b69c19ef14ad2 efbe4786384f25e3
0fc19dc68b8cd5b5 240ca1cc77ac9c65 2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5
983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4 c6e00bf33da88fc2 d5a79147930aa725
06ca6351e003826f 142929670a0e6e70 27b70a8546d22ffc 2e1b21385c26c926 4d2c6dfc5ac42aed 53380d139d95b3df
650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6 92722c851482353b a2bfe8a14cf10364 a81a664bbc423001
c24b8b70d0f89791 c76c51a30654be30 d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8
19a4c116b8d2d0c8 1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8 391c0cb3c5c95a63 4ed8aa4ae3418acb
5b9cca4f7763e373 682e6ff3d6b2b8a3 748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72 8cc702081a6439ec
90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b ca273eceea26619c d186b8c721c0c207
eada7dd6cde0eb1e f57d4f7fee6ed178 06f067aa72176fba 0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b
28db77f523047d84 32caab7b40c72493 3c9ebe0a15c9bebc 431d67c49c100d4c 4cc5d4becb3e42b6 597f299cfc657e2a
5fcb6fab3ad6faec 6c44198c4a475817
`

// Buffer.getAt is little-endian only; SHA-2 words are big-endian.
function be32(b: Buffer, off: number): number {
    return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0
}

function put32(b: Buffer, off: number, v: number): void {
    b[off] = (v >>> 24) & 255
    b[off + 1] = (v >>> 16) & 255
    b[off + 2] = (v >>> 8) & 255
    b[off + 3] = v & 255
}

export class Sha512 {
    // state words 0..7 as hi at 2i, lo at 2i+1
    private h: number[]
    // message schedule ring of 16 words (hi, lo)
    private w: number[]
    private block: Buffer
    private fill: number
    private total: number

    constructor() {
        this.h = [
            0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a,
            0x5f1d36f1, 0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b,
            0x5be0cd19, 0x137e2179,
        ]
        this.w = []
        for (let i = 0; i < 32; i++) this.w.push(0)
        this.block = Buffer.alloc(128)
        this.fill = 0
        this.total = 0
    }

    async update(data: Buffer, off: number, len: number): Promise<void> {
        this.total += len
        const blk = this.block
        while (len > 0) {
            let n = 128 - this.fill
            if (n > len) n = len
            blk.blitAt(this.fill, data, off, n)
            this.fill += n
            off += n
            len -= n
            if (this.fill === 128) {
                this.compress()
                this.fill = 0
                await ds.sleep(0)
            }
        }
    }

    async digest(): Promise<Buffer> {
        const blk = this.block
        const bits = this.total * 8
        blk[this.fill] = 0x80
        this.fill++
        if (this.fill > 112) {
            blk.fillAt(this.fill, 128 - this.fill, 0)
            this.compress()
            this.fill = 0
            await ds.sleep(0)
        }
        blk.fillAt(this.fill, 128 - this.fill, 0)
        // message length in bits, big-endian 128-bit; our messages are far below 2^32 bytes
        put32(blk, 120, Math.floor(bits / 4294967296))
        put32(blk, 124, bits >>> 0)
        this.compress()
        const out = Buffer.alloc(64)
        for (let i = 0; i < 16; i++) put32(out, 4 * i, this.h[i])
        return out
    }

    private compress(): void {
        const h = this.h
        const w = this.w
        const blk = this.block
        let ah = h[0], al = h[1], bh = h[2], bl = h[3], ch = h[4], cl = h[5], dh = h[6], dl = h[7]
        let eh = h[8], el = h[9], fh = h[10], fl = h[11], gh = h[12], gl = h[13], hh = h[14], hl = h[15]
        for (let t = 0; t < 80; t++) {
            const j = (t & 15) * 2
            let wh = 0
            let wl = 0
            if (t < 16) {
                wh = be32(blk, 8 * t)
                wl = be32(blk, 8 * t + 4)
            } else {
                // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]
                const j2 = ((t - 2) & 15) * 2
                const j7 = ((t - 7) & 15) * 2
                const j15 = ((t - 15) & 15) * 2
                const xh = w[j2], xl = w[j2 + 1]
                const yh = w[j15], yl = w[j15 + 1]
                // s1 = rotr19 ^ rotr61 ^ shr6
                const s1h = ((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6)
                const s1l = ((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^ ((xl >>> 6) | (xh << 26))
                // s0 = rotr1 ^ rotr8 ^ shr7
                const s0h = ((yh >>> 1) | (yl << 31)) ^ ((yh >>> 8) | (yl << 24)) ^ (yh >>> 7)
                const s0l = ((yl >>> 1) | (yh << 31)) ^ ((yl >>> 8) | (yh << 24)) ^ ((yl >>> 7) | (yh << 25))
                const sl = (s1l >>> 0) + w[j7 + 1] + (s0l >>> 0) + w[j + 1]
                wl = sl >>> 0
                wh = (s1h + w[j7] + s0h + w[j] + (sl - wl) / 4294967296) >>> 0
            }
            w[j] = wh
            w[j + 1] = wl
            // T1 = h + S1(e) + Ch(e,f,g) + K[t] + W[t]; S1 = rotr14 ^ rotr18 ^ rotr41
            const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23))
            const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23))
            const chh = (eh & fh) ^ (~eh & gh)
            const chl = (el & fl) ^ (~el & gl)
            const k = 8 * t
            const t1l = hl + (S1l >>> 0) + (chl >>> 0) + be32(K, k + 4) + wl
            const t1lo = t1l >>> 0
            const t1h = hh + S1h + chh + be32(K, k) + wh + (t1l - t1lo) / 4294967296
            // T2 = S0(a) + Maj(a,b,c); S0 = rotr28 ^ rotr34 ^ rotr39
            const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25))
            const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25))
            const mjh = (ah & bh) ^ (ah & ch) ^ (bh & ch)
            const mjl = (al & bl) ^ (al & cl) ^ (bl & cl)
            const t2l = (S0l >>> 0) + (mjl >>> 0)
            const t2lo = t2l >>> 0
            const t2h = S0h + mjh + (t2l - t2lo) / 4294967296
            hh = gh
            hl = gl
            gh = fh
            gl = fl
            fh = eh
            fl = el
            const el2 = dl + t1lo
            el = el2 >>> 0
            eh = (dh + t1h + (el2 - el) / 4294967296) >>> 0
            dh = ch
            dl = cl
            ch = bh
            cl = bl
            bh = ah
            bl = al
            const al2 = t1lo + t2lo
            al = al2 >>> 0
            ah = (t1h + t2h + (al2 - al) / 4294967296) >>> 0
        }
        let s = h[1] + al
        h[1] = s >>> 0
        h[0] = (h[0] + ah + (s - h[1]) / 4294967296) >>> 0
        s = h[3] + bl
        h[3] = s >>> 0
        h[2] = (h[2] + bh + (s - h[3]) / 4294967296) >>> 0
        s = h[5] + cl
        h[5] = s >>> 0
        h[4] = (h[4] + ch + (s - h[5]) / 4294967296) >>> 0
        s = h[7] + dl
        h[7] = s >>> 0
        h[6] = (h[6] + dh + (s - h[7]) / 4294967296) >>> 0
        s = h[9] + el
        h[9] = s >>> 0
        h[8] = (h[8] + eh + (s - h[9]) / 4294967296) >>> 0
        s = h[11] + fl
        h[11] = s >>> 0
        h[10] = (h[10] + fh + (s - h[11]) / 4294967296) >>> 0
        s = h[13] + gl
        h[13] = s >>> 0
        h[12] = (h[12] + gh + (s - h[13]) / 4294967296) >>> 0
        s = h[15] + hl
        h[15] = s >>> 0
        h[14] = (h[14] + hh + (s - h[15]) / 4294967296) >>> 0
    }
}

export async function sha512(data: Buffer): Promise<Buffer> {
    const s = new Sha512()
    await s.update(data, 0, data.length)
    return await s.digest()
}
