// Test entry (tests/firmware-lorawan-join.test.ts): OTAA joins through the SX1276 fake radio.
// The join-accept (made by the test's network-server model: it does not depend on the DevNonce
// in 1.0.x) is compiled in (src/vector-input.ts CASES[0], JSON), put "on air" in RX2; the first
// join succeeds, a second one answered with the same join-accept is refused (JoinNonce replay).
// Lines: "#sent <hex>" (join-requests), "#join <result> <devNonce>", "#uplink <hex>", "#rx <log>".
import * as ds from "@devicescript/core"
import { CASES } from "./vector-input"
import { Sx127x } from "./lora"
import { AirPacket, FakeSx1276 } from "./lora-fake"
import { cmacKey } from "./cmac"
import { regionByName } from "./lorawan-region"
import { LorawanCounters } from "./lorawan-state"
import { LorawanDevice, OtaaKeys, drParams, otaaJoin } from "./lorawan-join"
import { nextUplink, uplinkDone } from "./lorawan-mac"

const c = JSON.parse(CASES[0])
const r = regionByName("EU868")
const fake = new FakeSx1276()
const radio = new Sx127x(fake)
await radio.init(drParams(r, 0, 868100000, 0))
const counters = new LorawanCounters()
await counters.load()
const dev = new LorawanDevice(r, radio, counters, 0, 10)
const keys = new OtaaKeys(cmacKey(Buffer.from(c.appKey, "hex")), Buffer.from(c.joinEui, "hex"), Buffer.from(c.devEui, "hex"))

for (let k = 0; k < 2; k++) {
    fake.putOnAir(new AirPacket(Buffer.from(c.joinAccept, "hex"), 869525000, 12, 125000, true))
    let res = await otaaJoin(dev, keys, 5, k)
    while (res === "no-channel") {
        // the 1 % sub-band of the last join-request is still closed: wait for it, as a device must
        await ds.sleep(dev.picker.waitMs)
        res = await otaaJoin(dev, keys, 5, k)
    }
    console.log(`#join ${res === "" ? "ok" : res} ${dev.devNonce}`)
    if (res === "") {
        const fCnt = await counters.takeFCntUp()
        const o = nextUplink(r, dev.session, dev.st, fCnt, 1, Buffer.from("d20102", "hex"), false)
        uplinkDone(r, dev.st, o)
        console.log(`#uplink ${o.phy.toString("hex")}`)
        console.log(`#state ${dev.st.rx1Delay} ${dev.st.rx2Dr} ${dev.st.chMask[0]}`)
    }
}
for (let i = 0; i < fake.sent.length; i++) console.log(`#sent ${fake.sent[i].toString("hex")}`)
for (let i = 0; i < fake.rxLog.length; i++) console.log(`#rx ${fake.rxLog[i]}`)
console.log("#done")
