// The sceau record and its COSE_Sign1 seal (docs/protocol.md; design protocol-v1):
//   record = [1, counter, time / null, [[channel, value] / [channel, value, age], ...]]
//   frame  = 18([h'a10127', {4: kid} / {}, record bstr, signature bstr .size 64])
// The signature is Ed25519 over Sig_structure = ["Signature1", h'a10127', h'', record bstr].
import { CborWriter } from "./cbor"
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

/** The record's CBOR (the COSE payload). */
export function encodeRecord(rec: SensorRecord): Buffer {
    const w = new CborWriter()
    w.array(4)
    w.int(RECORD_VERSION)
    w.int(rec.counter)
    if (rec.time === null || rec.time === undefined) w.nil()
    else w.int(rec.time)
    w.array(rec.readings.length)
    for (const r of rec.readings) {
        // explicit test: the VM treats numbers outside int32 (e.g. 2^32 - 1) as falsy
        const age = r.age === undefined || r.age === null ? 0 : r.age
        w.array(age === 0 ? 2 : 3)
        w.int(r.channel)
        w.int(r.value)
        if (age !== 0) w.int(age)
    }
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
