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
// It also prints what the driver programmed, for the host to check against the regional plan
// and to time the class A windows (the line's virtual time is the host's clock):
//   sceau-air tx <RegFrf 3 bytes> <RegModemConfig1> <RegModemConfig2> <RegPaConfig> <RegSyncWord>   after TX done
//   sceau-air rx <RegFrf> <RegModemConfig1> <RegModemConfig2> <RegSymbTimeoutLsb> <RegInvertIQ> <RegInvertIQ2> got=<0|1> fake-ms=<n>
// when a window closed; fake-ms: the time this fake spent reading the air setting before starting
// the radio (the MAC opened the window that long before the line's time; a board has no such delay).
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
        const r = this.fake.regs
        console.log(`sceau-air tx ${r.slice(6, 9).toString("hex")} ${r.slice(0x1d, 0x1f).toString("hex")} ${r.slice(9, 10).toString("hex")} ${r.slice(0x39, 0x3a).toString("hex")}`)
    }

    async receive(p: LoraParams, invertIq: boolean, windowMs: number): Promise<RxPacket> {
        const opened = ds.millis()
        const v = await readSettingTimed(AIR_SETTING)
        const fakeMs = ds.millis() - opened
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
        const log = this.fake.rxLog
        this.fake.rxLog = []
        console.log(`sceau-air rx ${log.length > 0 ? log[log.length - 1] : "none"} got=${pkt === null ? 0 : 1} fake-ms=${fakeMs}`)
        return pkt
    }
}
