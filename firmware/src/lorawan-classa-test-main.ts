// Test entry (tests/firmware-lorawan-classa.test.ts): class A cycles of an ABP device through the
// SX1276 fake radio. The test's network model made one downlink (src/vector-input.ts CASES[0]),
// put "on air" in RX1 of the first uplink; the next uplinks carry the answers.
// Lines: "#down <fPort> <payload hex>" or "#down none", "#sent <hex>", "#rx <log>", "#state ...".
import * as ds from "@devicescript/core"
import { CASES } from "./vector-input"
import { Sx127x } from "./lora"
import { AirPacket, FakeSx1276 } from "./lora-fake"
import { regionByName } from "./lorawan-region"
import { LorawanSession } from "./lorawan-frames"
import { DownlinkCounter } from "./lorawan-counters"
import { LorawanCounters } from "./lorawan-state"
import { LorawanDevice, classACycle, drParams } from "./lorawan-join"

const c = JSON.parse(CASES[0])
const r = regionByName("EU868")
const fake = new FakeSx1276()
const radio = new Sx127x(fake)
await radio.init(drParams(r, 5, 868100000, 0))
const counters = new LorawanCounters()
await counters.load()
const dev = new LorawanDevice(r, radio, counters, 0, 10)
// ABP: the session is provisioned; RX1 after 1 s
dev.session = new LorawanSession(Buffer.from(c.devAddr, "hex"), Buffer.from(c.nwkSKey, "hex"), Buffer.from(c.appSKey, "hex"))
dev.down = new DownlinkCounter()
dev.st.dr = 5
dev.st.battery = 200

fake.putOnAir(new AirPacket(Buffer.from(c.downlink, "hex"), 868100000, 7, 125000, true))
for (let k = 0; k < c.cycles; k++) {
    let res = await classACycle(dev, 1, Buffer.from("d201", "hex"), false, 0)
    while (res.error === "no-channel") {
        await ds.sleep(dev.picker.waitMs)
        res = await classACycle(dev, 1, Buffer.from("d201", "hex"), false, 0)
    }
    const d = res.downlink
    console.log(d === null ? "#down none" : `#down ${d.fPort} ${d.payload.toString("hex")}`)
}
console.log(`#state ${dev.st.txPower} ${dev.st.rx2Dr} ${dev.st.snr}`)
for (let i = 0; i < fake.sent.length; i++) console.log(`#sent ${fake.sent[i].toString("hex")}`)
for (let i = 0; i < fake.rxLog.length; i++) console.log(`#rx ${fake.rxLog[i]}`)
console.log("#done")
