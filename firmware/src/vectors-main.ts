// Entry point of `npm run -w firmware vectors`: seals every case of src/vector-input.ts with the
// firmware's own encoder and signer, printing results as console lines the Node side collects:
//   #out <case> <hex chunk>   (chunks of one case concatenate to its result)
//   #end <case> <kind>        (kind: frame | signature | datagram)
//   #error <case> <message>
//   #done
import * as ds from "@devicescript/core"
import { CASES } from "./vector-input"
import { Ed25519Key, ed25519ExpandKey, ed25519Sign } from "./ed25519"
import { ContentKey, Reading, SensorRecord, contentKeyOf, kidOf, sealRecord, sealRecordV2 } from "./seal"
import { fragmentFrame } from "./fragment"

function emit(i: number, data: Buffer, kind: string): void {
    const hexs = data.toString("hex")
    for (let off = 0; off < hexs.length; off += 96) console.log(`#out ${i} ${hexs.slice(off, off + 96)}`)
    console.log(`#end ${i} ${kind}`)
}

function toRecord(r: any[]): SensorRecord {
    // [2, ...] lists all readings too: the content key decides what goes in clear
    if (r.length !== 4 || (r[0] !== 1 && r[0] !== 2)) throw new Error("record must be [1 or 2, counter, time, readings]")
    const readings: Reading[] = []
    const rs: any[] = r[3]
    for (const x of rs) {
        const age = x.length > 2 ? x[2] : 0
        readings.push({ channel: x[0], value: x[1], age: age })
    }
    return { counter: r[1], time: r[2], readings: readings }
}

let lastSeed = ""
let key: Ed25519Key = null
let lastContentKey = ""
let ck: ContentKey = null
for (let i = 0; i < CASES.length; i++) {
    try {
        const c = JSON.parse(CASES[i])
        if (c.fragment !== undefined) {
            // { fragment: frame hex, mtu, tag, hint: hex | null } -> one result per datagram
            const hint = c.hint === null ? null : Buffer.from(c.hint, "hex")
            const parts = fragmentFrame(Buffer.from(c.fragment, "hex"), c.mtu, c.tag, hint)
            for (const d of parts) emit(i, d, "datagram")
            console.log(`#end ${i} fragments`)
            await ds.sleep(0)
            continue
        }
        const seedHex: string = c.seed
        if (seedHex.length !== 64) throw new Error("seed must be 32 bytes of hex")
        if (seedHex !== lastSeed) {
            key = await ed25519ExpandKey(Buffer.from(seedHex, "hex"))
            lastSeed = seedHex
        }
        if (c.message !== undefined) {
            const sig = await ed25519Sign(key, Buffer.from(c.message, "hex"))
            emit(i, key.publicKey.concat(sig), "signature")
        } else if (c.contentKey !== undefined) {
            // record version 2: { seed, record, kid, contentKey: hex32 }
            const ckHex: string = c.contentKey
            if (ckHex.length !== 64) throw new Error("contentKey must be 32 bytes of hex")
            if (ckHex !== lastContentKey) {
                ck = await contentKeyOf(Buffer.from(ckHex, "hex"))
                lastContentKey = ckHex
            }
            const kid = await kidOf(key.publicKey)
            emit(i, await sealRecordV2(key, toRecord(c.record), ck, kid, c.kid ? true : false), "frame")
        } else {
            const kid = c.kid ? await kidOf(key.publicKey) : null
            emit(i, await sealRecord(key, toRecord(c.record), kid), "frame")
        }
    } catch (e) {
        console.log(`#error ${i} ${e}`)
    }
    await ds.sleep(0)
}
console.log("#done")
