// sceau firmware: boot (key, counter, boot reading), then sample, batch, seal and send, holding
// batches in a bounded queue while the link is down. Entry points (src/main.ts for the VM,
// src/board-*.ts for boards) choose the sensor source and call runFirmware().
// Console lines (documented in README.md, read by provisioning tools and CI):
//   sceau-key v1 kid=<16 hex> pub=<64 hex>[ deveui=<16 hex>][ new]   once per boot (deveui: LoRaWAN)
//   sceau-frame <hex>                                 a sealed frame (console link)
//   sceau-fragment <hex>                              a fragment of one (console link, small MTU)
//   sceau-frame+ <hex> / sceau-fragment+ <hex>        leading chunks of a long one (see console-lines.ts)
//   sceau-error <message>
//   sceau-lorawan <event> ... / sceau-control ...    the LoRaWAN link (src/lorawan-link.ts, app-control.ts)
//   sceau-lorawan wait <ms>[ too-long]               a wait owed to the duty cycle or join back-off
//                                                    (too-long: above LORA_MAX_WAIT_MS, not waited: the send gives up)
//   sceau-lorawan mac <CIDs hex>                     an accepted downlink's MAC commands, one CID byte each
//                                                    (past 100: sceau-lorawan mac+ lines first, as printLong cuts)
//   sceau-trace seal <counter> / sceau-trace sealed   around each signature, only with TRACE_SEALING
import * as ds from "@devicescript/core"
import {
    BATCH_SIZE,
    LINK,
    LINK_IDENTIFIES_SENDER,
    LINK_MTU,
    MAX_FRAMES,
    QUEUE_MAX,
    TRACE_SEALING,
    TCP_HOST,
    TCP_PORT,
    WITH_KID,
} from "./config"
import { ed25519ExpandKey } from "./ed25519"
import { fragmentFrame, maxFrameBytes } from "./fragment"
import { ConsoleLink, Link, TcpLink } from "./links"
import { DROPPED_CHANNEL, SampleQueue } from "./queue"
import { ContentKey, Reading, SensorRecord, contentKeyOf, kidOf, sealRecord, sealRecordV2 } from "./seal"
import { Counter, loadContentKey, loadOrCreateSeed } from "./state"
import { Sample, SensorSource } from "./sensors"
import { appControl } from "./app-control"

const BOOT_CHANNEL = 32
/** A frame is the record plus at most 85 bytes (design: Seal, size); a reading at most 16. */
const SEAL_OVERHEAD = 85
const RECORD_HEAD = 1 + 1 + 5 + 9 + 3
const READING_MAX = 16
/** Record version 2 adds at most 19 bytes (docs/protocol.md, "Record version 2", size). */
const ENCRYPTION_OVERHEAD = 19

function ageOf(s: Sample, now: number): number {
    const age = Math.round((now - s.at) / 1000)
    return age < 0 ? 0 : age
}

export async function runFirmware(sensor: SensorSource, boardLink: Link): Promise<void> {
    const seedInfo = await loadOrCreateSeed()
    const key = await ed25519ExpandKey(seedInfo.seed)
    const kid = await kidOf(key.publicKey)
    const link: Link =
        boardLink !== null
            ? boardLink
            : LINK === "tcp"
              ? new TcpLink(TCP_HOST, TCP_PORT, LINK_MTU)
              : new ConsoleLink(LINK_MTU, LINK_IDENTIFIES_SENDER)
    const eui = link.devEui()
    console.log(
        `sceau-key v1 kid=${kid.toString("hex")} pub=${key.publicKey.toString("hex")}${eui === "" ? "" : " deveui=" + eui}${seedInfo.generated ? " new" : ""}`
    )
    // with a provisioned content key, readings other than the operational ones are encrypted (record v2)
    const contentKey = await loadContentKey()
    const ck: ContentKey = contentKey === null ? null : await contentKeyOf(contentKey)
    const overhead = SEAL_OVERHEAD + (ck === null ? 0 : ENCRYPTION_OVERHEAD)
    const counter = new Counter()
    await counter.boot()
    // batch to the link's budget: one datagram when a useful frame fits the MTU, else 16 fragments
    const hinted = !link.identifiesSender
    const budget = link.mtu >= overhead + RECORD_HEAD + 2 * READING_MAX ? link.mtu : maxFrameBytes(link.mtu, hinted)
    let maxReadings = Math.floor((budget - overhead - RECORD_HEAD) / READING_MAX)
    if (maxReadings < 1) maxReadings = 1
    const queue = new SampleQueue(QUEUE_MAX, maxReadings)
    let batch: Sample[] = [{ channel: BOOT_CHANNEL, value: counter.boots, at: ds.millis() }]
    let rounds = 0
    let frames = 0
    let reportedDrops = 0
    for (;;) {
        await sensor.sample(batch)
        rounds++
        if (rounds >= BATCH_SIZE || batch.length >= maxReadings) {
            // a batch larger than one frame's budget goes out as several records
            let part: Sample[] = []
            for (const s of batch) {
                part.push(s)
                if (part.length === maxReadings) {
                    queue.push(part)
                    part = []
                }
            }
            if (part.length > 0) queue.push(part)
            batch = []
            rounds = 0
        }
        // send what the queue holds, oldest first, until the link refuses
        for (;;) {
            const b = queue.peek()
            if (b === null) break
            // the link first (LoRaWAN: the join, if any, and its receive windows): then the frame
            // is cut to the DR it goes at, and a link that cannot send costs no counter or signature
            if (!(await link.ready())) break
            const now = ds.millis()
            const readings: Reading[] = []
            for (const s of b) readings.push({ channel: s.channel, value: s.value, age: ageOf(s, now) })
            // the count of dropped readings always rides along (one reading over the estimate
            // at worst, which the budget's 16-byte-per-reading bound leaves room for)
            const drops = queue.dropped - reportedDrops
            if (drops > 0) readings.push({ channel: DROPPED_CHANNEL, value: drops, age: 0 })
            const c = await counter.take()
            const clock = link.clockSeconds()
            const rec: SensorRecord = { counter: c, time: clock < 0 ? null : clock, readings: readings }
            if (TRACE_SEALING) console.log(`sceau-trace seal ${c}`)
            const frame = ck === null ? await sealRecord(key, rec, WITH_KID ? kid : null) : await sealRecordV2(key, rec, ck, kid, WITH_KID)
            if (TRACE_SEALING) console.log("sceau-trace sealed")
            const datagrams = fragmentFrame(frame, link.sendMtu(), c % 8, hinted ? kid.slice(0, 2) : null)
            let sent = true
            for (const d of datagrams) {
                if (!(await link.send(d))) {
                    sent = false
                    break
                }
            }
            // unsent: the batch stays queued; its counter is skipped, never reused. (Signing runs only
            // here, after ready() and between sends: each returns after the last receive window of
            // its last transmission, so nothing is signed between a TX end and its last RX window.)
            if (!sent) break
            queue.shift()
            reportedDrops += drops
            frames++
            if (MAX_FRAMES > 0 && frames >= MAX_FRAMES) {
                console.log("#done")
                return
            }
        }
        await ds.sleep(appControl.intervalMs)
    }
}

/** runFirmware, reporting a fatal error as a console line; `boardLink` null: LINK of config.ts. */
export async function startFirmware(sensor: SensorSource, boardLink: Link): Promise<void> {
    try {
        await runFirmware(sensor, boardLink)
    } catch (e) {
        console.log(`sceau-error ${(e as Error).message}`)
    }
}
