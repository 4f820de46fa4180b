// HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869), over the firmware's own SHA-256. Used once
// per content key, for record version 2's base IV (docs/protocol.md, "Record version 2").
import { sha256 } from "./sha256"

const BLOCK = 64

function joined(a: Buffer, b: Buffer): Buffer {
    const out = Buffer.alloc(a.length + b.length)
    out.blitAt(0, a, 0, a.length)
    out.blitAt(a.length, b, 0, b.length)
    return out
}

/** HMAC-SHA256 of `msg` under `key` (any length; keys over 64 bytes are hashed first). */
export async function hmacSha256(key: Buffer, msg: Buffer): Promise<Buffer> {
    const k = key.length > BLOCK ? await sha256(key) : key
    const ipad = Buffer.alloc(BLOCK)
    const opad = Buffer.alloc(BLOCK)
    for (let i = 0; i < BLOCK; i++) {
        const b = i < k.length ? k[i] : 0
        ipad[i] = b ^ 0x36
        opad[i] = b ^ 0x5c
    }
    const inner = await sha256(joined(ipad, msg))
    return await sha256(joined(opad, inner))
}

/** HKDF-SHA256: extract with `salt` (empty means 32 zero bytes), then expand `info` to `length` bytes (<= 8160). */
export async function hkdfSha256(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Promise<Buffer> {
    if (length > 255 * 32) throw new RangeError("hkdf: at most 8160 bytes")
    const prk = await hmacSha256(salt.length === 0 ? Buffer.alloc(32) : salt, ikm)
    const out = Buffer.alloc(length)
    let t = Buffer.alloc(0)
    let done = 0
    for (let i = 1; done < length; i++) {
        const input = Buffer.alloc(t.length + info.length + 1)
        input.blitAt(0, t, 0, t.length)
        input.blitAt(t.length, info, 0, info.length)
        input[input.length - 1] = i
        t = await hmacSha256(prk, input)
        const take = length - done < 32 ? length - done : 32
        out.blitAt(done, t, 0, take)
        done += take
    }
    return out
}
