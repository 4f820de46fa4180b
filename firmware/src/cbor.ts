// A deterministic CBOR writer (RFC 8949 section 4.2.1, core deterministic encoding) for the
// subset sceau needs: unsigned and negative integers, byte strings, arrays, maps with integer
// keys written in the caller's order, null, and tags. Heads always take their shortest form.

export class CborWriter {
    private bytes: number[]

    constructor() {
        this.bytes = []
    }

    /** Major type `major` with argument `arg` (0 <= arg < 2^53), shortest form. */
    head(major: number, arg: number): void {
        const b = this.bytes
        const m = major << 5
        if (arg < 24) b.push(m | arg)
        else if (arg < 0x100) {
            b.push(m | 24)
            b.push(arg)
        } else if (arg < 0x10000) {
            b.push(m | 25)
            b.push(arg >> 8)
            b.push(arg & 255)
        } else if (arg < 4294967296) {
            b.push(m | 26)
            this.u32(arg)
        } else {
            b.push(m | 27)
            this.u32(Math.floor(arg / 4294967296))
            this.u32(arg >>> 0)
        }
    }

    private u32(v: number): void {
        const b = this.bytes
        b.push((v >>> 24) & 255)
        b.push((v >>> 16) & 255)
        b.push((v >>> 8) & 255)
        b.push(v & 255)
    }

    /** An integer: major type 0 for v >= 0, major type 1 (argument -1 - v) for v < 0. */
    int(v: number): void {
        if (v >= 0) this.head(0, v)
        else this.head(1, -1 - v)
    }

    bytestring(data: Buffer): void {
        this.head(2, data.length)
        const b = this.bytes
        for (let i = 0; i < data.length; i++) b.push(data[i])
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
        this.bytes.push(0xf6)
    }

    raw(data: Buffer): void {
        const b = this.bytes
        for (let i = 0; i < data.length; i++) b.push(data[i])
    }

    size(): number {
        return this.bytes.length
    }

    toBuffer(): Buffer {
        return Buffer.from(this.bytes)
    }
}
