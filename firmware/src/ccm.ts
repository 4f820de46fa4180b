// AES-CCM (RFC 3610, NIST SP 800-38C) with a 13-byte nonce (L = 2) and an 8-byte tag, with AAD:
// COSE's AES-CCM-16-64-128/256 (RFC 9053). Over the firmware's own AES (src/aes.ts), since the
// VM's built-in AES-256-CCM takes no AAD. Encrypt (seal) only: a device never opens its records.
// A block is over 1,280 VM opcodes and the VM allows ~128k between yields: the loops yield every
// 4 blocks and once between the MAC and the encryption, so callers may seal records back to back.
import * as ds from "@devicescript/core"
import { AesKey, aesEncryptWords, loadWords, storeWords, xorWords } from "./aes"

export const CCM_NONCE_BYTES = 13
export const CCM_TAG_BYTES = 8

/** CBC-MAC over `data` zero-padded to whole blocks, continuing the chain in `s`. */
async function macBlocks(k: AesKey, s: number[], data: Buffer): Promise<void> {
    for (let off = 0; off < data.length; off += 16) {
        xorWords(s, data, off)
        aesEncryptWords(k, s)
        if ((off & 63) === 48) await ds.sleep(0)
    }
}

function padded(prefix: number, data: Buffer): Buffer {
    const out = Buffer.alloc(((prefix + data.length + 15) >> 4) << 4)
    out.blitAt(prefix, data, 0, data.length)
    return out
}

/** ciphertext ‖ 8-byte tag of `plaintext` (< 65,536 bytes) under `k`, `nonce` (13 bytes) and `aad` (< 65,280 bytes). */
export async function aesCcmSeal(k: AesKey, nonce: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer> {
    const m = plaintext.length
    if (nonce.length !== CCM_NONCE_BYTES) throw new RangeError("ccm: nonce must be 13 bytes")
    if (m > 0xffff || aad.length >= 0xff00) throw new RangeError("ccm: message or AAD too long")
    // B0: flags (Adata, (M - 2) / 2 = 3, L - 1 = 1), nonce, message length
    const b0 = Buffer.alloc(16)
    b0[0] = (aad.length > 0 ? 0x40 : 0) | 0x19
    b0.blitAt(1, nonce, 0, CCM_NONCE_BYTES)
    b0[14] = m >> 8
    b0[15] = m & 255
    const s = [0, 0, 0, 0]
    loadWords(s, b0, 0)
    aesEncryptWords(k, s)
    if (aad.length > 0) {
        const a = padded(2, aad)
        a[0] = aad.length >> 8
        a[1] = aad.length & 255
        await macBlocks(k, s, a)
    }
    const p = padded(0, plaintext)
    await macBlocks(k, s, p)
    await ds.sleep(0)
    // CTR: A_i = (L - 1) ‖ nonce ‖ i; S0 masks the tag, S1... the message
    const ctr = Buffer.alloc(16)
    ctr[0] = 1
    ctr.blitAt(1, nonce, 0, CCM_NONCE_BYTES)
    const ks = [0, 0, 0, 0]
    const block = Buffer.alloc(16)
    const out = Buffer.alloc(m + CCM_TAG_BYTES)
    loadWords(ks, ctr, 0)
    aesEncryptWords(k, ks)
    ks[0] ^= s[0]
    ks[1] ^= s[1]
    storeWords(ks, block, 0)
    out.blitAt(m, block, 0, CCM_TAG_BYTES)
    for (let i = 1; (i - 1) * 16 < m; i++) {
        ctr[14] = i >> 8
        ctr[15] = i & 255
        loadWords(ks, ctr, 0)
        aesEncryptWords(k, ks)
        xorWords(ks, p, (i - 1) * 16)
        storeWords(ks, block, 0)
        const off = (i - 1) * 16
        out.blitAt(off, block, 0, m - off < 16 ? m - off : 16)
        if ((i & 3) === 0) await ds.sleep(0)
    }
    return out
}
