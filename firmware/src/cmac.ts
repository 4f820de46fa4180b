// AES-CMAC (RFC 4493) over AES-128 or AES-256, with the subkeys K1 and K2 computed once per key.
// LoRaWAN 1.0.x uses it for every MIC (the first 4 bytes of the CMAC).
import { AesKey, aesEncryptBlock, aesEncryptWords, aesExpandKey, loadWords, storeWords, xorWords } from "./aes"

export class CmacKey {
    aes: AesKey
    /** subkeys K1 and K2 (RFC 4493 section 2.3) as 4 column words each */
    k1: number[]
    k2: number[]
    constructor(aes: AesKey, k1: number[], k2: number[]) {
        this.aes = aes
        this.k1 = k1
        this.k2 = k2
    }
}

/** Doubling in GF(2^128) (RFC 4493 section 2.3): shift the 16 bytes left by one bit, XOR 0x87 on carry. */
function dbl(src: Buffer, dst: Buffer): void {
    for (let i = 0; i < 15; i++) dst[i] = ((src[i] << 1) | (src[i + 1] >> 7)) & 255
    dst[15] = ((src[15] << 1) & 255) ^ ((src[0] & 0x80) === 0 ? 0 : 0x87)
}

/** Expands `key` (16 or 32 bytes) and derives its CMAC subkeys. */
export function cmacKey(key: Buffer): CmacKey {
    const aes = aesExpandKey(key)
    const l = Buffer.alloc(16)
    aesEncryptBlock(aes, l, 0, l, 0)
    const k1 = Buffer.alloc(16)
    const k2 = Buffer.alloc(16)
    dbl(l, k1)
    dbl(k1, k2)
    const w1 = [0, 0, 0, 0]
    const w2 = [0, 0, 0, 0]
    loadWords(w1, k1, 0)
    loadWords(w2, k2, 0)
    return new CmacKey(aes, w1, w2)
}

/**
 * The CMAC of `prefix ‖ msg[off, off + len)` left in `s` (4 column words: s[0] holds bytes 0..3,
 * the LoRaWAN MIC). `prefix` is null or one whole 16-byte block (LoRaWAN's B0), which saves
 * copying the message behind it.
 */
export function cmacWords(k: CmacKey, prefix: Buffer, msg: Buffer, off: number, len: number, s: number[]): void {
    s[0] = 0
    s[1] = 0
    s[2] = 0
    s[3] = 0
    if (prefix !== null) {
        if (len === 0) throw new RangeError("cmac: a prefix block needs a non-empty message")
        loadWords(s, prefix, 0)
        aesEncryptWords(k.aes, s)
    }
    // every block but the last goes through as it is
    const full = len === 0 ? 0 : (len - 1) >> 4
    let o = off
    for (let b = 0; b < full; b++) {
        xorWords(s, msg, o)
        aesEncryptWords(k.aes, s)
        o += 16
    }
    // the last block: complete -> XOR K1; partial or empty -> pad with 0x80 0x00... and XOR K2
    const rest = off + len - o
    let sub = k.k1
    if (rest === 16) xorWords(s, msg, o)
    else {
        const last = Buffer.alloc(16)
        last.blitAt(0, msg, o, rest)
        last[rest] = 0x80
        xorWords(s, last, 0)
        sub = k.k2
    }
    s[0] ^= sub[0]
    s[1] ^= sub[1]
    s[2] ^= sub[2]
    s[3] ^= sub[3]
    aesEncryptWords(k.aes, s)
}

/** The 16-byte AES-CMAC of `msg`. */
export function aesCmac(k: CmacKey, msg: Buffer): Buffer {
    const s = [0, 0, 0, 0]
    cmacWords(k, null, msg, 0, msg.length, s)
    const out = Buffer.alloc(16)
    storeWords(s, out, 0)
    return out
}
