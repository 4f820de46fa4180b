// sceau firmware: boot (key, counter, boot reading), then sample, batch, seal and send.
// Console lines (documented in README.md, read by provisioning tools and CI):
//   sceau-key v1 kid=<16 hex> pub=<64 hex> [new]     once per boot
//   sceau-frame <hex>                                 one sealed COSE_Sign1 frame
//   sceau-error <message>
import * as ds from "@devicescript/core"
import { BATCH_SIZE, MAX_FRAMES, SAMPLE_INTERVAL_MS, WITH_KID } from "./config"
import { ed25519ExpandKey } from "./ed25519"
import { Reading, kidOf, sealRecord } from "./seal"
import { Counter, loadOrCreateSeed } from "./state"
import { Sample, SimulatedClimate } from "./sensors"

const BOOT_CHANNEL = 32

function ageOf(s: Sample, now: number): number {
    const age = Math.round((now - s.at) / 1000)
    return age < 0 ? 0 : age
}

async function run(): Promise<void> {
    const seedInfo = await loadOrCreateSeed()
    const key = await ed25519ExpandKey(seedInfo.seed)
    const kid = await kidOf(key.publicKey)
    console.log(
        `sceau-key v1 kid=${kid.toString("hex")} pub=${key.publicKey.toString("hex")}${seedInfo.generated ? " new" : ""}`
    )
    const counter = new Counter()
    await counter.boot()
    const sensor = new SimulatedClimate()
    let pending: Sample[] = [{ channel: BOOT_CHANNEL, value: counter.boots, at: ds.millis() }]
    let rounds = 0
    let frames = 0
    for (;;) {
        await sensor.sample(pending)
        rounds++
        if (rounds >= BATCH_SIZE) {
            const now = ds.millis()
            const readings: Reading[] = []
            for (const s of pending) readings.push({ channel: s.channel, value: s.value, age: ageOf(s, now) })
            const c = await counter.take()
            const frame = await sealRecord(key, { counter: c, time: null, readings: readings }, WITH_KID ? kid : null)
            console.log(`sceau-frame ${frame.toString("hex")}`)
            pending = []
            rounds = 0
            frames++
            if (MAX_FRAMES > 0 && frames >= MAX_FRAMES) {
                console.log("#done")
                return
            }
        }
        await ds.sleep(SAMPLE_INTERVAL_MS)
    }
}

try {
    await run()
} catch (e) {
    console.log(`sceau-error ${e}`)
}
