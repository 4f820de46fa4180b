// The sceau record and its COSE_Sign1 seal (docs/protocol.md; design protocol-v1):
//   record = [1, counter, time / null, [[channel, value] / [channel, value, age], ...]]
//   frame  = 18([h'a10127', {4: kid} / {}, record bstr, signature bstr .size 64])
// The signature is Ed25519 over Sig_structure = ["Signature1", h'a10127', h'', record bstr].
// Record version 2 (with a content key) keeps operational readings in clear and encrypts the rest:
//   record = [2, counter, time / null, [operational readings], 16([h'a1010b', {}, ciphertext])]
import { AesKey, aesExpandKey } from "./aes"
import { aesCcmSeal } from "./ccm"
import { CborWriter } from "./cbor"
import { hkdfSha256 } from "./hkdf"
import { Ed25519Key, ed25519SignParts } from "./ed25519"
import { sha256 } from "./sha256"

export const RECORD_VERSION = 1

export interface Reading {
    channel: number
    value: number
    /** seconds between the measurement and the sealing; 0 is written as no age */
    age: number
}

export interface SensorRecord {
    counter: number
    /** Unix seconds, or null when the device has no wall clock */
    time: number | null
    readings: Reading[]
}

// which readings writeReadings takes
const ALL = 0
const CLEAR = 1
const HIDDEN = 2

/** Battery (5), boot (32) and readings dropped (33): the channels record v2 keeps in clear. */
export function isOperational(channel: number): boolean {
    return channel === 5 || channel === 32 || channel === 33
}

function taken(r: Reading, which: number): boolean {
    if (which === ALL) return true
    return isOperational(r.channel) === (which === CLEAR)
}

/** `[[channel, value] / [channel, value, age], ...]` of the readings `which` selects. */
function writeReadings(w: CborWriter, readings: Reading[], which: number): void {
    let n = 0
    for (const r of readings) if (taken(r, which)) n++
    w.array(n)
    for (const r of readings) {
        if (taken(r, which)) {
            // explicit test: the VM treats numbers outside int32 (e.g. 2^32 - 1) as falsy
            const age = r.age === undefined || r.age === null ? 0 : r.age
            w.array(age === 0 ? 2 : 3)
            w.int(r.channel)
            w.int(r.value)
            if (age !== 0) w.int(age)
        }
    }
}

function writeTime(w: CborWriter, time: number | null): void {
    if (time === null || time === undefined) w.nil()
    else w.int(time)
}

/** The record's CBOR (the COSE payload). */
export function encodeRecord(rec: SensorRecord): Buffer {
    const w = new CborWriter()
    w.array(4)
    w.int(RECORD_VERSION)
    w.int(rec.counter)
    writeTime(w, rec.time)
    writeReadings(w, rec.readings, ALL)
    return w.toBuffer()
}

/** A device's content key, expanded once: its AES-256 schedule and its base IV. */
export class ContentKey {
    aes: AesKey
    /** HKDF-SHA256(content key, salt empty, info "sceau base iv", 13 bytes) */
    baseIv: Buffer
    constructor(aes: AesKey, baseIv: Buffer) {
        this.aes = aes
        this.baseIv = baseIv
    }
}

export async function contentKeyOf(key: Buffer): Promise<ContentKey> {
    if (key.length !== 32) throw new RangeError("content key: expected 32 bytes")
    const baseIv = await hkdfSha256(key, Buffer.alloc(0), Buffer.from("sceau base iv"), 13)
    return new ContentKey(aesExpandKey(key), baseIv)
}

// ["Encrypt0", h'a1010b', ...: the Enc_structure up to its external_aad
const ENC_STRUCTURE_PREFIX = hex`83 68 456e6372797074 30 43 a1010b`
// 16([h'a1010b', {}, ...: the COSE_Encrypt0 up to its ciphertext
const ENCRYPT0_PREFIX = hex`d0 83 43 a1010b a0`

/** The record as version 2: `kid` (8 bytes, in the AAD even when the frame leaves it out). */
export async function encodeRecordV2(rec: SensorRecord, ck: ContentKey, kid: Buffer): Promise<Buffer> {
    const w = new CborWriter()
    w.array(5)
    w.int(2)
    w.int(rec.counter)
    writeTime(w, rec.time)
    writeReadings(w, rec.readings, CLEAR)
    const plain = new CborWriter()
    writeReadings(plain, rec.readings, HIDDEN)
    const aad = new CborWriter()
    aad.array(3)
    aad.bytestring(kid)
    aad.int(rec.counter)
    writeTime(aad, rec.time)
    const enc = new CborWriter()
    enc.raw(ENC_STRUCTURE_PREFIX)
    enc.bytestring(aad.toBuffer())
    // nonce = baseIV XOR counter, big-endian, right-aligned in 13 bytes (counter < 2^32: arithmetic, not >>>)
    const nonce = ck.baseIv.slice(0, 13)
    let c = rec.counter
    for (let i = 12; i >= 9; i--) {
        nonce[i] = nonce[i] ^ (c % 256)
        c = Math.floor(c / 256)
    }
    w.raw(ENCRYPT0_PREFIX)
    w.bytestring(await aesCcmSeal(ck.aes, nonce, enc.toBuffer(), plain.toBuffer()))
    return w.toBuffer()
}

// protected header bstr: 43 a1 01 27 = bstr({1: -8}), alg EdDSA
const PROTECTED_BSTR = hex`43 a1 01 27`
// Sig_structure up to the payload: array(4), "Signature1", protected bstr, empty external aad
const SIG_STRUCTURE_PREFIX = hex`84 6a 5369676e617475726531 43 a10127 40`

/** kid = the first 8 bytes of SHA-256(public key). */
export async function kidOf(publicKey: Buffer): Promise<Buffer> {
    return (await sha256(publicKey)).slice(0, 8)
}

function bstrHead(len: number): Buffer {
    const w = new CborWriter()
    w.head(2, len)
    return w.toBuffer()
}

/** Seals `payload` (a record's CBOR) as a tagged COSE_Sign1; `kid` null leaves it out. */
export async function sealPayload(key: Ed25519Key, payload: Buffer, kid: Buffer | null): Promise<Buffer> {
    const payloadHead = bstrHead(payload.length)
    const sig = await ed25519SignParts(key, [SIG_STRUCTURE_PREFIX, payloadHead, payload])
    const w = new CborWriter()
    w.tag(18)
    w.array(4)
    w.raw(PROTECTED_BSTR)
    if (kid) {
        w.map(1)
        w.int(4)
        w.bytestring(kid)
    } else {
        w.map(0)
    }
    w.raw(payloadHead)
    w.raw(payload)
    w.bytestring(sig)
    return w.toBuffer()
}

export async function sealRecord(key: Ed25519Key, rec: SensorRecord, kid: Buffer | null): Promise<Buffer> {
    return await sealPayload(key, encodeRecord(rec), kid)
}

/** Seals `rec` as record version 2; `kid` goes in the AAD always, in the frame when `kidInFrame`. */
export async function sealRecordV2(key: Ed25519Key, rec: SensorRecord, ck: ContentKey, kid: Buffer, kidInFrame: boolean): Promise<Buffer> {
    return await sealPayload(key, await encodeRecordV2(rec, ck, kid), kidInFrame ? kid : null)
}
