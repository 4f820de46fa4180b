// Test entry (tests/firmware-lora.test.ts): the SX127x and SX126x drivers against the fake
// register models, airtime against AN1200.13 figures, duty cycle on an injected clock.
// Prints "#r <name> <json>" lines.
import * as ds from "@devicescript/core"
import { DutyCycle, LoraLink, LoraParams, Sx126x, Sx127x, loraAirtimeMs } from "./lora"
import { FakeSx1262, FakeSx1276 } from "./lora-fake"
import { fragmentFrame } from "./fragment"
import { printLong } from "./console-lines"

function r(name: string, v: any): void {
    printLong(`#r ${name}`, JSON.stringify(v))
}

// EU868 DR0: SF12 / 125 kHz, 868.1 MHz, MTU 51
const dr0: LoraParams = { freqHz: 868100000, sf: 12, bwHz: 125000, cr: 1, txPowerDbm: 14, preamble: 8, syncWord: 0x34 }
const dr5: LoraParams = { freqHz: 868300000, sf: 7, bwHz: 125000, cr: 1, txPowerDbm: 14, preamble: 8, syncWord: 0x12 }

r("airtime", [loraAirtimeMs(10, dr5), loraAirtimeMs(64, dr0), loraAirtimeMs(51, dr0), loraAirtimeMs(1, dr5)])

// a frame of 150 bytes cut for MTU 51 without sender identification (hint = 2 bytes)
const frame = Buffer.alloc(150)
frame[0] = 0xd2
for (let i = 1; i < 150; i++) frame[i] = (i * 37) & 255
const parts = fragmentFrame(frame, 51, 5, hex`abcd`)

const f1 = new FakeSx1276()
const sx1276 = new Sx127x(f1)
await sx1276.init(dr0)
let clock = 1000
const link1 = new LoraLink(sx1276, dr0, 51, 0.01, 0, () => clock)
const ok1: boolean[] = []
for (const p of parts) {
    ok1.push(await link1.send(p))
    clock += 1000
}
r("sx1276", {
    resets: f1.resets,
    opMode: f1.regs[0x01],
    frf: f1.regs.slice(0x06, 0x09).toString("hex"),
    pa: f1.regs[0x09],
    mc1: f1.regs[0x1d],
    mc2: f1.regs[0x1e],
    mc3: f1.regs[0x26],
    preamble: (f1.regs[0x20] << 8) | f1.regs[0x21],
    sync: f1.regs[0x39],
    irq: f1.regs[0x12],
    ok: ok1,
    sent: f1.sent.map(b => b.toString("hex")),
    parts: parts.map(b => b.toString("hex")),
    airtime: link1.duty.airtimeMs,
})

// duty cycle: 1% means the band closes for 99x the time on air
const d = new DutyCycle(0.01)
d.record(0, 100)
r("duty", [d.waitMs(0), d.waitMs(5000), d.waitMs(10000), d.waitMs(20000)])

// with a real clock and a longer allowed wait, a second packet waits for the band
const f3 = new FakeSx1276()
const sx3 = new Sx127x(f3)
await sx3.init(dr5)
const link3 = new LoraLink(sx3, dr5, 222, 0.1, 2000)
const t0 = ds.millis()
const a = await link3.send(hex`d2 01 02 03`)
const b = await link3.send(hex`d2 01 02 03`)
r("wait", { a: a, b: b, waited: ds.millis() - t0, airtime: loraAirtimeMs(4, dr5) })

const f2 = new FakeSx1262()
const sx1262 = new Sx126x(f2)
await sx1262.init(dr0)
let clock2 = 0
const link2 = new LoraLink(sx1262, dr0, 51, 0.01, 0, () => clock2)
const ok2: boolean[] = []
for (const p of parts) {
    ok2.push(await link2.send(p))
    clock2 += 300000 // 5 minutes: the band is open again
}
r("sx1262", {
    resets: f2.resets,
    freq: f2.last[0x86],
    mod: f2.last[0x8b],
    pa: f2.last[0x95],
    txp: f2.last[0x8e],
    pkt: f2.last[0x8c],
    type: f2.last[0x8a],
    sync: f2.syncWord.toString("hex"),
    ok: ok2,
    sent: f2.sent.map(b => b.toString("hex")),
})

// no chip: the SX127x version register reads 0
class NoChip extends FakeSx1276 {
    override async reset(): Promise<void> {}
}
let err = ""
try {
    await new Sx127x(new NoChip()).init(dr0)
} catch (e) {
    err = (e as Error).message
}
r("nochip", err)
console.log("#done")
