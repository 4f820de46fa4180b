// A deterministic CBOR writer (RFC 8949 section 4.2.1, core deterministic encoding) for the
// subset sceau needs: unsigned and negative integers, byte strings, arrays, maps with integer
// keys written in the caller's order, null, and tags. Heads always take their shortest form.
// Bytes go into a Buffer that doubles when full (a number[] costs 8+ heap bytes per byte).

export class CborWriter {
    private buf: Buffer
    private n: number

    constructor(capacity?: number) {
        this.buf = Buffer.alloc(capacity === undefined ? 64 : capacity)
        this.n = 0
    }

    private ensure(k: number): void {
        const need = this.n + k
        if (need <= this.buf.length) return
        let cap = this.buf.length * 2
        if (cap < need) cap = need
        const nb = Buffer.alloc(cap)
        nb.blitAt(0, this.buf, 0, this.n)
        this.buf = nb
    }

    private byte(v: number): void {
        this.buf[this.n] = v
        this.n++
    }

    private u32(v: number): void {
        this.byte((v >>> 24) & 255)
        this.byte((v >>> 16) & 255)
        this.byte((v >>> 8) & 255)
        this.byte(v & 255)
    }

    /** Major type `major` with argument `arg` (0 <= arg < 2^53), shortest form. */
    head(major: number, arg: number): void {
        this.ensure(9)
        const m = major << 5
        if (arg < 24) this.byte(m | arg)
        else if (arg < 0x100) {
            this.byte(m | 24)
            this.byte(arg)
        } else if (arg < 0x10000) {
            this.byte(m | 25)
            this.byte(arg >> 8)
            this.byte(arg & 255)
        } else if (arg < 4294967296) {
            this.byte(m | 26)
            this.u32(arg)
        } else {
            this.byte(m | 27)
            this.u32(Math.floor(arg / 4294967296))
            this.u32(arg >>> 0)
        }
    }

    /** An integer: major type 0 for v >= 0, major type 1 (argument -1 - v) for v < 0. */
    int(v: number): void {
        if (v >= 0) this.head(0, v)
        else this.head(1, -1 - v)
    }

    bytestring(data: Buffer): void {
        this.head(2, data.length)
        this.raw(data)
    }

    array(length: number): void {
        this.head(4, length)
    }

    map(length: number): void {
        this.head(5, length)
    }

    tag(t: number): void {
        this.head(6, t)
    }

    nil(): void {
        this.ensure(1)
        this.byte(0xf6)
    }

    /** Bytes already in CBOR form. */
    raw(data: Buffer): void {
        this.ensure(data.length)
        this.buf.blitAt(this.n, data, 0, data.length)
        this.n += data.length
    }

    size(): number {
        return this.n
    }

    toBuffer(): Buffer {
        return this.buf.slice(0, this.n)
    }
}
