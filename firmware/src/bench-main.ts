// Entry point of `npm run -w firmware bench`. The Node side passes parameters in the VM's device
// id (16 hex digits): digits 0-1 mode, digits 2-7 a count.
//   mode 00: time `count` signatures; prints "#t <expand> <sign> <seal v1> <seal v2>" lines (ms;
//            seal v2 = the same record as version 2, content key expanded once),
//            "#rec <10 v1 records> <10 v2 records>" (ms to encode 10 records: the encryption's
//            cost per record without the signature's noise around it; both loops yield once per
//            record at least, ~20 us included) and
//            "#v2 <v1 frame bytes> <v2 frame bytes> <content key expansion ms>"
//   mode 01: allocate `count` heap blocks of 256 bytes (ballast), then stop
//            then the LoRaWAN work in the same run: "#lwt <ms per 200 AES-128 blocks> <ms per 20
//            uplinks>" (CMAC + FRMPayload encryption of a 107-byte payload, the session's keys
//            expanded once, as the MAC keeps them). A block is over 1,280 VM opcodes (100 in a row panic) and the VM allows
//            128k between yields, so the loops yield (await ds.sleep(0), ~20 us, included: the
//            figures are upper bounds); ds.millis() has 1 ms resolution, hence the batches.
//   mode 02: the same ballast, then derive a key and seal a record (peak-heap probe: Node finds
//            the largest ballast that still lets the seal finish; the difference to mode 01 is
//            the seal's peak heap, within one block)
import * as ds from "@devicescript/core"
import { deviceIdParam } from "./device-id-params"
import { ed25519ExpandKey, ed25519Sign } from "./ed25519"
import { SensorRecord, contentKeyOf, encodeRecord, encodeRecordV2, kidOf, sealRecord, sealRecordV2 } from "./seal"
import { aesEncryptBlock, aesExpandKey } from "./aes"
import { LorawanSession, Uplink, encodeUplink } from "./lorawan-frames"

const mode = deviceIdParam(0, 2)
const count = deviceIdParam(2, 8)
const seed = hex`9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60`
const rec: SensorRecord = {
    counter: 1,
    time: null,
    readings: [
        { channel: 1, value: 2150, age: 0 },
        { channel: 2, value: 4530, age: 0 },
        { channel: 5, value: 3012, age: 0 },
    ],
}
// the Sig_structure of that record with the kid, as signed by sealRecord
const msg = hex`846a5369676e61747572653143a10127404e840101f683820119086682021911b28205190bc4`

if (mode === 0) {
    // per-iteration times (ms), so the Node side can take medians on a busy machine
    console.log(`#msg ${msg.toString("hex")}`)
    let key = await ed25519ExpandKey(seed)
    await ed25519Sign(key, msg) // warm-up
    const kid = await kidOf(key.publicKey)
    const tk = ds.millis()
    const ck = await contentKeyOf(hex`000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f`)
    const ckMs = ds.millis() - tk
    console.log(`#v2 ${(await sealRecord(key, rec, kid)).length} ${(await sealRecordV2(key, rec, ck, kid, true)).length} ${ckMs}`)
    for (let i = 0; i < count; i++) {
        let t0 = ds.millis()
        key = await ed25519ExpandKey(seed)
        const t1 = ds.millis()
        await ed25519Sign(key, msg)
        const t2 = ds.millis()
        rec.counter = i + 1
        await sealRecord(key, rec, kid)
        const t3 = ds.millis()
        await sealRecordV2(key, rec, ck, kid, true)
        const t4 = ds.millis()
        console.log(`#t ${t1 - t0} ${t2 - t1} ${t3 - t2} ${t4 - t3}`)
        await ds.sleep(0)
        const t5 = ds.millis()
        for (let j = 0; j < 10; j++) {
            encodeRecord(rec)
            await ds.sleep(0)
        }
        const t6 = ds.millis()
        for (let j = 0; j < 10; j++) await encodeRecordV2(rec, ck, kid)
        const t7 = ds.millis()
        console.log(`#rec ${t6 - t5} ${t7 - t6}`)
    }
    const aes = aesExpandKey(hex`2b7e151628aed2a6abf7158809cf4f3c`)
    const block = Buffer.alloc(16)
    const session = new LorawanSession(hex`26011f2a`, hex`44024241ed4ce9a68c6a8bc055233fd3`, hex`ec925802ae430ca77fd3dd73cb2cc588`)
    const frame = Buffer.alloc(107)
    for (let i = 0; i < 107; i++) frame[i] = i
    for (let i = 0; i < count; i++) {
        await ds.sleep(0)
        const t0 = ds.millis()
        for (let k = 0; k < 4; k++) {
            for (let j = 0; j < 50; j++) aesEncryptBlock(aes, block, 0, block, 0)
            await ds.sleep(0)
        }
        const t1 = ds.millis()
        await ds.sleep(0)
        const t2 = ds.millis()
        for (let j = 0; j < 20; j++) {
            encodeUplink(session, new Uplink(i * 20 + j, 1, frame))
            await ds.sleep(0)
        }
        const t3 = ds.millis()
        console.log(`#lwt ${t1 - t0} ${t3 - t2}`)
    }
} else {
    const ballast: Buffer[] = []
    for (let i = 0; i < count; i++) ballast.push(Buffer.alloc(248))
    if (mode === 2) {
        const key = await ed25519ExpandKey(seed)
        const kid = await kidOf(key.publicKey)
        await sealRecord(key, rec, kid)
    }
    console.log(`#ballast ${ballast.length} ${encodeRecord(rec).length}`)
}
console.log("#done")
