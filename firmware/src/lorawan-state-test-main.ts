// Test entry (tests/firmware-lorawan-state.test.ts): the persisted LoRaWAN counters of
// src/lorawan-state.ts under power cuts. The test stops the VM at a chosen flash write and ignores
// what the program printed after it (the CPU died there). Mode in device id digit 0:
//   0 (OTAA): join after join: take a DevNonce, accept a JoinNonce the network counted up, replay
//             an older one (refused), then 5 uplinks; a reboot first replays the last accepted one
//   1 (ABP):  one session resumed at every boot, uplink after uplink
// Lines: "boot <devNonceNext> <lastJoinNonce> <fCntLimit>", "w dn|jn|fcnt" (a write is about to
// start), "dn <n>", "jn <n> ok|refused", "up <fcnt>".
import * as ds from "@devicescript/core"
import { deviceIdParam } from "./device-id-params"
import { LorawanCounters } from "./lorawan-state"

const mode = deviceIdParam(0, 1)
const c = new LorawanCounters()
await c.load()
console.log(`boot ${c.devNonceNext} ${c.lastJoinNonce} ${c.fCntLimit}`)

async function up(): Promise<void> {
    if (c.fCntNext >= c.fCntLimit) console.log("w fcnt")
    const f = await c.takeFCntUp()
    console.log(`up ${f}`)
    await ds.sleep(1)
}

if (mode === 1) {
    while (true) await up()
}
if (c.lastJoinNonce >= 0) {
    const jn = c.lastJoinNonce
    console.log(`jn ${jn} ${(await c.acceptJoin(jn)) ? "ok" : "refused"}`)
}
while (true) {
    console.log("w dn")
    const dn = await c.takeDevNonce()
    console.log(`dn ${dn}`)
    // the network server's JoinNonce counts up with each join it answers
    const jn = 3 * dn + 7
    console.log("w jn")
    console.log(`jn ${jn} ${(await c.acceptJoin(jn)) ? "ok" : "refused"}`)
    console.log(`jn ${jn - 1} ${(await c.acceptJoin(jn - 1)) ? "ok" : "refused"}`)
    for (let k = 0; k < 5; k++) await up()
}
