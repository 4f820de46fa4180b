// Test entry (tests/firmware-lora-rx.test.ts): single receive windows of the SX127x and SX126x
// drivers against the fake register models: a LoRaWAN downlink heard with inverted IQ, nothing
// heard with the wrong IQ polarity, frequency or SF, and the radio set up for TX again afterwards;
// then `configure` (the LoRaWAN MAC's per-uplink channel and DR) and a window: the new TX settings stay.
// Prints "#r <name> <json>" lines.
import { LoraParams, LoraRadio, RxPacket, Sx126x, Sx127x } from "./lora"
import { AirPacket, FakeSx1262, FakeSx1276 } from "./lora-fake"
import { printLong } from "./console-lines"

function r(name: string, v: any): void {
    printLong(`#r ${name}`, JSON.stringify(v))
}

// uplink: EU868 868.1 MHz DR5; RX1 on the same channel at DR5; RX2 869.525 MHz DR0 (SF12)
const tx: LoraParams = { freqHz: 868100000, sf: 7, bwHz: 125000, cr: 1, txPowerDbm: 14, preamble: 8, syncWord: 0x34 }
const rx1: LoraParams = { freqHz: 868100000, sf: 7, bwHz: 125000, cr: 1, txPowerDbm: 14, preamble: 8, syncWord: 0x34 }
const rx2: LoraParams = { freqHz: 869525000, sf: 12, bwHz: 125000, cr: 1, txPowerDbm: 14, preamble: 8, syncWord: 0x34 }
// a LoRaWAN downlink (unconfirmed data down, FPort 1) as a gateway sends it
const down = hex`60 da 1b 01 26 00 05 00 01 a1 b2 c3 11 22 33 44`

function shown(p: RxPacket): any {
    return p === null ? null : { payload: p.payload.toString("hex"), rssi: p.rssiDbm, snr: p.snrDb }
}

async function scenario(name: string, radio: LoraRadio, put: (a: AirPacket) => void, log: () => string[], after: () => any) {
    await radio.init(tx)
    const res: any[] = []
    // 1. heard in RX2 with inverted IQ
    put(new AirPacket(down, 869525000, 12, 125000, true))
    res.push(shown(await radio.receive(rx2, true, 1000)))
    // 2. the same packet, listened for without IQ inversion: nothing
    put(new AirPacket(down, 869525000, 12, 125000, true))
    res.push(shown(await radio.receive(rx2, false, 1000)))
    // 3. sent in RX1 (868.1 MHz SF7) but listened for in RX2: nothing
    put(new AirPacket(down, 868100000, 7, 125000, true))
    res.push(shown(await radio.receive(rx2, true, 20)))
    // 4. heard in RX1
    res.push(shown(await radio.receive(rx1, true, 20)))
    // 5. a transmission afterwards still uses the TX settings
    await radio.transmit(hex`40 01 02 03`, 1000)
    r(name, { res: res, rxLog: log(), after: after() })
}

// US915 channel 8 (903.9 MHz) at DR0 (SF10/125 kHz), 20 dBm, LoRaWAN's public sync word
const us: LoraParams = { freqHz: 903900000, sf: 10, bwHz: 125000, cr: 1, txPowerDbm: 20, preamble: 8, syncWord: 0x34 }

async function configured(name: string, radio: LoraRadio, settings: () => any) {
    await radio.configure(us)
    const set = settings()
    await radio.receive(rx2, true, 20)
    await radio.transmit(hex`40 04 05 06`, 1000)
    r(`${name}cfg`, { set: set, afterRx: settings() })
}

const f1 = new FakeSx1276()
const radio1 = new Sx127x(f1)
await scenario(
    "sx1276",
    radio1,
    a => f1.putOnAir(a),
    () => f1.rxLog,
    () => ({
        frf: f1.regs.slice(6, 9).toString("hex"),
        mc2: f1.regs[0x1e],
        iq: [f1.regs[0x33], f1.regs[0x3b]],
        sent: f1.sent.map(b => b.toString("hex")),
        opMode: f1.regs[0x01],
    })
)
await configured("sx1276", radio1, () => ({
    frf: f1.regs.slice(6, 9).toString("hex"),
    mc1: f1.regs[0x1d],
    mc2: f1.regs[0x1e],
    pa: f1.regs[0x09],
    sync: f1.regs[0x39],
    sent: f1.sent.map(b => b.toString("hex")),
}))
const f2 = new FakeSx1262()
const radio2 = new Sx126x(f2)
await scenario(
    "sx1262",
    radio2,
    a => f2.putOnAir(a),
    () => f2.rxLog,
    () => ({
        freq: f2.last[0x86],
        mod: f2.last[0x8b],
        pkt: f2.last[0x8c],
        iqReg: f2.iqReg,
        irqParams: f2.last[0x08],
        sent: f2.sent.map(b => b.toString("hex")),
    })
)
await configured("sx1262", radio2, () => ({
    freq: f2.last[0x86],
    mod: f2.last[0x8b],
    txParams: f2.last[0x8e],
    sync: f2.syncWord.toString("hex"),
    sent: f2.sent.map(b => b.toString("hex")),
}))
console.log("#done")
