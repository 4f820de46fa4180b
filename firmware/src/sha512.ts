// SHA-512 (FIPS 180-4) for the DeviceScript VM, which has no BigInt: every 64-bit word is a pair
// of 32-bit halves (hi, lo). Sums of lo halves are exact in float64; the carry into hi is
// (sum - (sum >>> 0)) / 2^32. One block costs about 50k VM opcodes, close to half the VM's limit
// of 128k opcodes between yields, so every compress() is followed by `await ds.sleep(0)`.
import * as ds from "@devicescript/core"

// K[t] (FIPS 180-4 section 4.2.3) as hi, lo 32-bit words, each stored little-endian so that one
// Buffer.getAt(off, "u32") reads it
const K = hex`
982f8a42 22ae28d7 91443771 cd65ef23 cffbc0b5 2f3b4dec a5dbb5e9 bcdb8981 5bc25639 38b548f3 f111f159 19d005b6
a4823f92 9b4f19af d55e1cab 18816dda 98aa07d8 420203a3 015b8312 be6f7045 be853124 8cb2e44e c37d0c55 e2b4ffd5
745dbe72 6f897bf2 feb1de80 b196163b a706dc9b 3512c725 74f19bc1 942669cf c1699be4 d24af19e 8647beef e3254f38
c69dc10f b5d58c8b cca10c24 659cac77 6f2ce92d 75022b59 aa84744a 83e4a66e dca9b05c d4fb41bd da88f976 b5531183
52513e98 abdf66ee 6dc631a8 1032b42d c82703b0 3f21fb98 c77f59bf e40eefbe f30be0c6 c28fa83d 4791a7d5 25a70a93
5163ca06 6f8203e0 67292914 706e0e0a 850ab727 fc2fd246 38211b2e 26c9265c fc6d2c4d ed2ac45a 130d3853 dfb3959d
54730a65 de63af8b bb0a6a76 a8b2773c 2ec9c281 e6aeed47 852c7292 3b358214 a1e8bfa2 6403f14c 4b661aa8 013042bc
708b4bc2 9197f8d0 a3516cc7 30be5406 19e892d1 1852efd6 240699d6 10a96555 85350ef4 2a207157 70a06a10 b8d1bb32
16c1a419 c8d0d2b8 086c371e 53ab4151 4c774827 99eb8edf b5bcb034 a8489be1 b30c1c39 635ac9c5 4aaad84e cb8a41e3
4fca9c5b 73e36377 f36f2e68 a3b8b2d6 ee828f74 fcb2ef5d 6f63a578 602f1743 1478c884 72abf0a1 0802c78c ec39641a
faffbe90 281e6323 eb6c50a4 e9bd82de f7a3f9be 1579c6b2 f27871c6 2b5372e3 ce3e27ca 9c6126ea c7b886d1 07c2c021
d67ddaea 1eebe0cd 7f4f7df5 78d16eee aa67f006 ba6f1772 c57d630a a698c8a2 04983f11 ae0df9be 350b711b 1b471c13
f577db28 847d0423 7babca32 9324c740 0abe9e3c bcbec915 c4671d43 4c0d109c bed4c54c b6423ecb 9c297f59 2a7e65fc
ab6fcb5f ecfad63a 8c19446c 1758474a
`

// Buffer.getAt is little-endian only; SHA-2 words are big-endian.
export function be32(b: Buffer, off: number): number {
    return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0
}

export function put32(b: Buffer, off: number, v: number): void {
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
        await ds.sleep(0)
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
            const t1l = hl + (S1l >>> 0) + (chl >>> 0) + K.getAt(k + 4, "u32") + wl
            const t1lo = t1l >>> 0
            const t1h = hh + S1h + chh + K.getAt(k, "u32") + wh + (t1l - t1lo) / 4294967296
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
