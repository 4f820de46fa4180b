// The fake SX1276 with a host-driven "air", for whole-firmware LoRaWAN tests in the VM
// (tests/firmware-lorawan-link.test.ts): every packet the firmware sends is printed as
// "sceau-radio <hex>" (the fake's echo, after a "sceau-radio-tx <freqHz> <sf> <bwHz> <syncWord>" line
// read from the chip's registers), and a host puts a downlink on air by writing the setting
//   sceau_air = "<seq>:<freqHz>:<sf>:<bwHz>:<hex>[:<startMs>]"
// through the runtime's settings service. At each receive window the radio reads it; a packet
// with a sequence number not delivered before is put on air, and the fake delivers it only to a
// window on its frequency, SF and bandwidth with inverted IQ. With `startMs` (when its preamble
// starts, in ms of the device's clock) only a window open at that moment hears it. A packet heard
// prints "sceau-radio-heard <seq>". (Test-only: boards use lora.ts.)
import * as ds from "@devicescript/core"
import { LoraParams, LoraRadio, RxPacket, Sx127x } from "./lora"
import { AirPacket, FakeSx1276 } from "./lora-fake"
import { readSettingTimed } from "./state"

export const AIR_SETTING = "sceau_air"

export class HostAirRadio implements LoraRadio {
    readonly fake: FakeSx1276
    private radio: Sx127x
    private delivered: number
    constructor() {
        this.fake = new FakeSx1276()
        this.fake.echo = true
        this.radio = new Sx127x(this.fake)
        this.delivered = 0
    }

    async init(p: LoraParams): Promise<void> {
        await this.radio.init(p)
    }

    async configure(p: LoraParams): Promise<void> {
        await this.radio.configure(p)
    }

    async transmit(payload: Buffer, timeoutMs: number): Promise<void> {
        await this.radio.transmit(payload, timeoutMs)
    }

    async receive(p: LoraParams, invertIq: boolean, windowMs: number): Promise<RxPacket> {
        const opened = ds.millis()
        const v = await readSettingTimed(AIR_SETTING)
        let seq = -1
        if (typeof v === "string") {
            const f = (v as string).split(":")
            if (f.length === 5 || f.length === 6) {
                seq = parseInt(f[0])
                // with a start time (ms of this device's clock), only a window open when the preamble starts hears it
                const at = f.length === 6 ? parseInt(f[5]) : -1
                const inWindow = at < 0 || (at >= opened && at <= opened + windowMs)
                if (seq > this.delivered && inWindow) this.fake.putOnAir(new AirPacket(Buffer.from(f[4], "hex"), parseInt(f[1]), parseInt(f[2]), parseInt(f[3]), true))
            }
        }
        const pkt = await this.radio.receive(p, invertIq, windowMs)
        if (pkt !== null) {
            this.delivered = seq
            console.log(`sceau-radio-heard ${seq}`)
        }
        this.fake.putOnAir(null)
        return pkt
    }
}
