// AES (FIPS-197), encrypt direction only, 128- and 256-bit keys, for the DeviceScript VM.
// A LoRaWAN end device never needs AES decryption: it opens the join-accept with AES encrypt
// (the network server "encrypts" it with AES decrypt), and the FRMPayload keystream and the MIC
// (CMAC) only encrypt. The VM has no AES-128 and no raw AES block (only AES-256-CCM without AAD).
//
// The state is four column words, row 0 in the low byte (the little-endian order of Buffer.getAt),
// and each round is 16 T-table lookups (src/aes-tables.ts, in flash) and XORs with the round key.
// The key schedule is computed once per key (AesKey) and kept as 4 * (rounds + 1) numbers.
//
// Not constant-time: table lookups depend on the key and data. A bytecode VM gives no timing
// guarantee anyway; see firmware/README.md, "Security notes".
import { SBOX, TE0, TE1, TE2, TE3 } from "./aes-tables"

export class AesKey {
    /** round keys, 4 words per round, rounds + 1 rounds */
    rk: number[]
    /** 10 for a 128-bit key, 14 for a 256-bit key */
    rounds: number
    constructor(rk: number[], rounds: number) {
        this.rk = rk
        this.rounds = rounds
    }
}

function subWord(w: number): number {
    return (
        SBOX[w & 255] |
        (SBOX[(w >>> 8) & 255] << 8) |
        (SBOX[(w >>> 16) & 255] << 16) |
        (SBOX[(w >>> 24) & 255] << 24)
    )
}

/** The key schedule (FIPS-197 section 5.2) of a 16- or 32-byte key. */
export function aesExpandKey(key: Buffer): AesKey {
    const nk = key.length >> 2
    if (key.length !== 16 && key.length !== 32) throw new RangeError("AES key: expected 16 or 32 bytes")
    const rounds = nk + 6
    const total = 4 * (rounds + 1)
    const w: number[] = []
    for (let i = 0; i < nk; i++) w.push(key.getAt(4 * i, "i32"))
    let rcon = 1
    for (let i = nk; i < total; i++) {
        let t = w[i - 1]
        if (i % nk === 0) {
            // RotWord moves byte 1 to byte 0: a right rotation of the little-endian word
            t = subWord((t >>> 8) | (t << 24)) ^ rcon
            rcon = ((rcon << 1) ^ ((rcon & 0x80) === 0 ? 0 : 0x11b)) & 255
        } else if (nk > 6 && i % nk === 4) t = subWord(t)
        w.push(w[i - nk] ^ t)
    }
    return new AesKey(w, rounds)
}

/** Encrypts the block held in `s` (4 column words) in place. */
export function aesEncryptWords(k: AesKey, s: number[]): void {
    const rk = k.rk
    let s0 = s[0] ^ rk[0]
    let s1 = s[1] ^ rk[1]
    let s2 = s[2] ^ rk[2]
    let s3 = s[3] ^ rk[3]
    const last = k.rounds * 4
    for (let r = 4; r < last; r += 4) {
        // column j takes row i from column j + i (ShiftRows), then MixColumns through the tables
        const t0 =
            TE0.getAt((s0 << 2) & 1020, "i32") ^
            TE1.getAt((s1 >>> 6) & 1020, "i32") ^
            TE2.getAt((s2 >>> 14) & 1020, "i32") ^
            TE3.getAt((s3 >>> 22) & 1020, "i32") ^
            rk[r]
        const t1 =
            TE0.getAt((s1 << 2) & 1020, "i32") ^
            TE1.getAt((s2 >>> 6) & 1020, "i32") ^
            TE2.getAt((s3 >>> 14) & 1020, "i32") ^
            TE3.getAt((s0 >>> 22) & 1020, "i32") ^
            rk[r + 1]
        const t2 =
            TE0.getAt((s2 << 2) & 1020, "i32") ^
            TE1.getAt((s3 >>> 6) & 1020, "i32") ^
            TE2.getAt((s0 >>> 14) & 1020, "i32") ^
            TE3.getAt((s1 >>> 22) & 1020, "i32") ^
            rk[r + 2]
        s3 =
            TE0.getAt((s3 << 2) & 1020, "i32") ^
            TE1.getAt((s0 >>> 6) & 1020, "i32") ^
            TE2.getAt((s1 >>> 14) & 1020, "i32") ^
            TE3.getAt((s2 >>> 22) & 1020, "i32") ^
            rk[r + 3]
        s0 = t0
        s1 = t1
        s2 = t2
    }
    // last round: SubBytes and ShiftRows, no MixColumns
    s[0] = (SBOX[s0 & 255] | (SBOX[(s1 >>> 8) & 255] << 8) | (SBOX[(s2 >>> 16) & 255] << 16) | (SBOX[s3 >>> 24] << 24)) ^ rk[last]
    s[1] = (SBOX[s1 & 255] | (SBOX[(s2 >>> 8) & 255] << 8) | (SBOX[(s3 >>> 16) & 255] << 16) | (SBOX[s0 >>> 24] << 24)) ^ rk[last + 1]
    s[2] = (SBOX[s2 & 255] | (SBOX[(s3 >>> 8) & 255] << 8) | (SBOX[(s0 >>> 16) & 255] << 16) | (SBOX[s1 >>> 24] << 24)) ^ rk[last + 2]
    s[3] = (SBOX[s3 & 255] | (SBOX[(s0 >>> 8) & 255] << 8) | (SBOX[(s1 >>> 16) & 255] << 16) | (SBOX[s2 >>> 24] << 24)) ^ rk[last + 3]
}

/** Reads 16 bytes at `off` into the 4 words of `s`. */
export function loadWords(s: number[], b: Buffer, off: number): void {
    s[0] = b.getAt(off, "i32")
    s[1] = b.getAt(off + 4, "i32")
    s[2] = b.getAt(off + 8, "i32")
    s[3] = b.getAt(off + 12, "i32")
}

/** XORs the 16 bytes at `off` into the 4 words of `s`. */
export function xorWords(s: number[], b: Buffer, off: number): void {
    s[0] ^= b.getAt(off, "i32")
    s[1] ^= b.getAt(off + 4, "i32")
    s[2] ^= b.getAt(off + 8, "i32")
    s[3] ^= b.getAt(off + 12, "i32")
}

/** Writes the 4 words of `s` as 16 bytes at `off`. */
export function storeWords(s: number[], b: Buffer, off: number): void {
    b.setAt(off, "i32", s[0])
    b.setAt(off + 4, "i32", s[1])
    b.setAt(off + 8, "i32", s[2])
    b.setAt(off + 12, "i32", s[3])
}

/** One block: 16 bytes of `src` at `srcOff`, encrypted into `dst` at `dstOff` (may be the same place). */
export function aesEncryptBlock(k: AesKey, src: Buffer, srcOff: number, dst: Buffer, dstOff: number): void {
    const s = [0, 0, 0, 0]
    loadWords(s, src, srcOff)
    aesEncryptWords(k, s)
    storeWords(s, dst, dstOff)
}
