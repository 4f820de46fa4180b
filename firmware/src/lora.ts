// LoRa radios over SPI: Semtech SX127x (SX1276/77/78/79, register interface) and SX126x (SX1261/62,
// command interface): transmit, and single receive windows (inverted IQ for LoRaWAN downlinks),
// with LoRa time on air (Semtech AN1200.13) and duty-cycle accounting. `LoraLink` sends each
// datagram as a raw LoRa packet (explicit header, CRC on), without a LoRaWAN MAC; the LoRaWAN
// MAC (src/lorawan-join.ts) drives a `LoraRadio` directly.
// SPI does not exist in the DeviceScript simulator, so tests drive these drivers against fake
// register models (src/lora-fake.ts); see README.md for what was checked on hardware.
import * as ds from "@devicescript/core"
import { Link } from "./links"

/** One SPI transaction (chip select held low for its length), the reset line and SX126x BUSY. */
export interface RadioBus {
    transfer(tx: Buffer): Promise<Buffer>
    reset(): Promise<void>
    /** SX126x BUSY line (true while the chip cannot take a command); false when not wired. */
    busy(): boolean
}

export interface LoraParams {
    freqHz: number
    sf: number
    /** 125000, 250000 or 500000 */
    bwHz: number
    /** coding rate 4/(4+cr), cr in 1..4 */
    cr: number
    txPowerDbm: number
    preamble: number
    /** the LoRa sync word; 0x34 is LoRaWAN's public network, 0x12 private */
    syncWord: number
}

/** Low data rate optimization, mandated when a symbol lasts 16 ms or more (SF11/12 at 125 kHz). */
export function lowDataRate(p: LoraParams): boolean {
    return (1 << p.sf) / p.bwHz >= 0.016
}

/** Time on air in ms of a LoRa packet of `len` bytes, explicit header, CRC on (AN1200.13). */
export function loraAirtimeMs(len: number, p: LoraParams): number {
    const tsym = ((1 << p.sf) / p.bwHz) * 1000
    const de = lowDataRate(p) ? 1 : 0
    const num = 8 * len - 4 * p.sf + 28 + 16
    let n = Math.ceil(num / (4 * (p.sf - 2 * de))) * (p.cr + 4)
    if (n < 0) n = 0
    return (p.preamble + 4.25) * tsym + (8 + n) * tsym
}

/**
 * Duty cycle: after `airtime` ms on air, the band is closed for airtime * (1/dutyCycle - 1) ms
 * (ETSI EN 300 220 style, as LoRaWAN EU868 applies per sub-band). Times are ms on any clock.
 */
export class DutyCycle {
    private ratio: number
    private freeAt: number
    /** sum of time on air, for reports */
    airtimeMs: number

    constructor(ratio: number) {
        this.ratio = ratio
        this.freeAt = 0
        this.airtimeMs = 0
    }

    /** ms to wait from `now` before the band may be used again (0 when open). */
    waitMs(now: number): number {
        return this.freeAt > now ? this.freeAt - now : 0
    }

    record(start: number, airtime: number): void {
        this.airtimeMs += airtime
        this.freeAt = start + airtime / this.ratio
    }
}

/** A packet heard in a receive window. */
export class RxPacket {
    payload: Buffer
    rssiDbm: number
    snrDb: number
    constructor(payload: Buffer, rssiDbm: number, snrDb: number) {
        this.payload = payload
        this.rssiDbm = rssiDbm
        this.snrDb = snrDb
    }
}

export interface LoraRadio {
    init(p: LoraParams): Promise<void>
    /** Sends one packet and waits for TX done (throws on timeout). */
    transmit(payload: Buffer, timeoutMs: number): Promise<void>
    /**
     * One receive window (LoRaWAN class A RX1 or RX2): listens on `p` (explicit header, no
     * payload CRC required, as LoRaWAN downlinks are sent), with inverted IQ when `invertIq`
     * (downlinks from a gateway), for a preamble within `windowMs`. Returns the packet, or null
     * when nothing was heard or it was damaged. Afterwards the radio is back in standby, set up
     * for transmitting with the parameters of `init`.
     */
    receive(p: LoraParams, invertIq: boolean, windowMs: number): Promise<RxPacket>
    /**
     * Sets the parameters of the next transmissions (frequency, SF, bandwidth, power, sync word)
     * without a reset; they stay after receive windows. The LoRaWAN MAC calls it before each
     * uplink with the channel and data rate it chose.
     */
    configure(p: LoraParams): Promise<void>
}

/** Symbols of a receive window of `windowMs` (at least 6, the LoRaWAN minimum to detect a preamble). */
export function rxWindowSymbols(p: LoraParams, windowMs: number): number {
    const tsym = ((1 << p.sf) / p.bwHz) * 1000
    const n = Math.ceil(windowMs / tsym)
    return n < 6 ? 6 : n
}

// (polling loops are written out: DeviceScript arrow functions cannot use `this`)
async function pollPause(t0: number, timeoutMs: number, what: string): Promise<void> {
    if (ds.millis() - t0 > timeoutMs) throw new Error(`lora: ${what}: timeout after ${timeoutMs} ms`)
    await ds.sleep(1)
}

// SX127x registers (SX1276/77/78/79 datasheet, section 6.4, LoRa mode)
const REG_FIFO = 0x00
const REG_OP_MODE = 0x01
const REG_FRF_MSB = 0x06
const REG_PA_CONFIG = 0x09
const REG_FIFO_ADDR_PTR = 0x0d
const REG_FIFO_TX_BASE = 0x0e
const REG_IRQ_FLAGS = 0x12
const REG_MODEM_CONFIG1 = 0x1d
const REG_MODEM_CONFIG2 = 0x1e
const REG_PREAMBLE_MSB = 0x20
const REG_PAYLOAD_LENGTH = 0x22
const REG_MODEM_CONFIG3 = 0x26
const REG_SYNC_WORD = 0x39
const REG_VERSION = 0x42
const MODE_LORA = 0x80
const MODE_SLEEP = 0x00
const MODE_STDBY = 0x01
const MODE_TX = 0x03
const MODE_RX_SINGLE = 0x06
const IRQ_TX_DONE = 0x08
const IRQ_RX_DONE = 0x40
const IRQ_RX_TIMEOUT = 0x80
const IRQ_CRC_ERROR = 0x20
const REG_FIFO_RX_BASE = 0x0f
const REG_FIFO_RX_CURRENT = 0x10
const REG_RX_NB_BYTES = 0x13
const REG_PKT_SNR = 0x19
const REG_PKT_RSSI = 0x1a
const REG_SYMB_TIMEOUT_LSB = 0x1f
// I/Q inversion (SX1276 datasheet RegInvertIQ, and the errata register 0x3B): RX inverted / normal
const REG_INVERT_IQ = 0x33
const REG_INVERT_IQ2 = 0x3b
const INVERT_IQ_RX = 0x67
const INVERT_IQ_NORMAL = 0x27
const INVERT_IQ2_ON = 0x19
const INVERT_IQ2_OFF = 0x1d

export class Sx127x implements LoraRadio {
    private bus: RadioBus
    private p: LoraParams

    constructor(bus: RadioBus) {
        this.bus = bus
        this.p = null
    }

    private async write(reg: number, data: Buffer): Promise<void> {
        const tx = Buffer.alloc(1 + data.length)
        tx[0] = reg | 0x80
        tx.blitAt(1, data, 0, data.length)
        await this.bus.transfer(tx)
    }

    private async writeReg(reg: number, v: number): Promise<void> {
        const tx = Buffer.alloc(2)
        tx[0] = reg | 0x80
        tx[1] = v
        await this.bus.transfer(tx)
    }

    async readReg(reg: number): Promise<number> {
        const tx = Buffer.alloc(2)
        tx[0] = reg & 0x7f
        const rx = await this.bus.transfer(tx)
        return rx[1]
    }

    async init(p: LoraParams): Promise<void> {
        await this.bus.reset()
        const version = await this.readReg(REG_VERSION)
        if (version !== 0x12) throw new Error(`lora: SX127x not found (version register ${version})`)
        // the LoRa bit is ignored unless the chip is already asleep: sleep first, then set it
        await this.writeReg(REG_OP_MODE, MODE_SLEEP)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_SLEEP)
        if (((await this.readReg(REG_OP_MODE)) & MODE_LORA) === 0) throw new Error("lora: SX127x did not enter LoRa mode")
        this.p = p
        await this.modem(p, 0x04)
        await this.writeReg(REG_FIFO_TX_BASE, 0)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_STDBY)
    }

    async configure(p: LoraParams): Promise<void> {
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_STDBY)
        this.p = p
        await this.modem(p, 0x04)
    }

    /** Frequency, power and modem registers for `p`; `mc2Low` = RegModemConfig2 bits 3..0 (CRC, SymbTimeout MSBs). */
    private async modem(p: LoraParams, mc2Low: number): Promise<void> {
        // Frf = f * 2^19 / 32 MHz
        const frf = Math.round((p.freqHz / 32000000) * 524288)
        const f = Buffer.alloc(3)
        f[0] = (frf >> 16) & 255
        f[1] = (frf >> 8) & 255
        f[2] = frf & 255
        await this.write(REG_FRF_MSB, f)
        // PA_BOOST pin, Pout = 2 + OutputPower dBm (2..17)
        let pw = p.txPowerDbm
        if (pw < 2) pw = 2
        if (pw > 17) pw = 17
        await this.writeReg(REG_PA_CONFIG, 0x80 | 0x70 | (pw - 2))
        const bwCode = p.bwHz === 500000 ? 9 : p.bwHz === 250000 ? 8 : 7
        await this.writeReg(REG_MODEM_CONFIG1, (bwCode << 4) | (p.cr << 1)) // explicit header
        await this.writeReg(REG_MODEM_CONFIG2, (p.sf << 4) | mc2Low) // 0x04: CRC on
        await this.writeReg(REG_MODEM_CONFIG3, (lowDataRate(p) ? 0x08 : 0) | 0x04) // AGC auto
        await this.writeReg(REG_PREAMBLE_MSB, (p.preamble >> 8) & 255)
        await this.writeReg(REG_PREAMBLE_MSB + 1, p.preamble & 255)
        await this.writeReg(REG_SYNC_WORD, p.syncWord)
    }

    async receive(p: LoraParams, invertIq: boolean, windowMs: number): Promise<RxPacket> {
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_STDBY)
        let sym = rxWindowSymbols(p, windowMs)
        if (sym > 1023) sym = 1023
        await this.modem(p, (sym >> 8) & 3) // no payload CRC required (LoRaWAN downlinks have none)
        await this.writeReg(REG_SYMB_TIMEOUT_LSB, sym & 255)
        await this.writeReg(REG_INVERT_IQ, invertIq ? INVERT_IQ_RX : INVERT_IQ_NORMAL)
        await this.writeReg(REG_INVERT_IQ2, invertIq ? INVERT_IQ2_ON : INVERT_IQ2_OFF)
        await this.writeReg(REG_FIFO_RX_BASE, 0)
        await this.writeReg(REG_FIFO_ADDR_PTR, 0)
        await this.writeReg(REG_IRQ_FLAGS, 0xff)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_RX_SINGLE)
        // the chip ends RX single by itself (timeout or packet); our own deadline covers a longest packet
        const deadline = windowMs + loraAirtimeMs(255, p) + 100
        const t0 = ds.millis()
        let irq = 0
        while (true) {
            irq = await this.readReg(REG_IRQ_FLAGS)
            if ((irq & (IRQ_RX_DONE | IRQ_RX_TIMEOUT)) !== 0 || ds.millis() - t0 > deadline) break
            await ds.sleep(1)
        }
        let pkt: RxPacket = null
        if ((irq & IRQ_RX_DONE) !== 0 && (irq & IRQ_CRC_ERROR) === 0) {
            const n = await this.readReg(REG_RX_NB_BYTES)
            await this.writeReg(REG_FIFO_ADDR_PTR, await this.readReg(REG_FIFO_RX_CURRENT))
            const rx = await this.bus.transfer(Buffer.alloc(1 + n)) // address 0x00 read: the FIFO
            let snr = await this.readReg(REG_PKT_SNR)
            if (snr > 127) snr -= 256
            const rssi = -157 + (await this.readReg(REG_PKT_RSSI))
            pkt = new RxPacket(rx.slice(1), rssi, snr / 4)
        }
        await this.writeReg(REG_IRQ_FLAGS, 0xff)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_STDBY)
        await this.writeReg(REG_INVERT_IQ, INVERT_IQ_NORMAL)
        await this.writeReg(REG_INVERT_IQ2, INVERT_IQ2_OFF)
        await this.modem(this.p, 0x04)
        return pkt
    }

    async transmit(payload: Buffer, timeoutMs: number): Promise<void> {
        if (payload.length < 1 || payload.length > 255) throw new RangeError(`lora: payload of ${payload.length} bytes`)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_STDBY)
        await this.writeReg(REG_FIFO_ADDR_PTR, 0)
        await this.write(REG_FIFO, payload)
        await this.writeReg(REG_PAYLOAD_LENGTH, payload.length)
        await this.writeReg(REG_IRQ_FLAGS, 0xff)
        await this.writeReg(REG_OP_MODE, MODE_LORA | MODE_TX)
        const t0 = ds.millis()
        while (((await this.readReg(REG_IRQ_FLAGS)) & IRQ_TX_DONE) === 0) await pollPause(t0, timeoutMs, "TX done")
        await this.writeReg(REG_IRQ_FLAGS, 0xff)
    }
}

// SX126x commands (SX1261/2 datasheet, section 13)
const CMD_SET_STANDBY = 0x80
const CMD_SET_PACKET_TYPE = 0x8a
const CMD_SET_REGULATOR_MODE = 0x96
const CMD_SET_RF_FREQUENCY = 0x86
const CMD_SET_PA_CONFIG = 0x95
const CMD_SET_TX_PARAMS = 0x8e
const CMD_SET_MODULATION_PARAMS = 0x8b
const CMD_SET_PACKET_PARAMS = 0x8c
const CMD_SET_BUFFER_BASE = 0x8f
const CMD_SET_DIO_IRQ_PARAMS = 0x08
const CMD_WRITE_REGISTER = 0x0d
const CMD_WRITE_BUFFER = 0x0e
const CMD_CLEAR_IRQ = 0x02
const CMD_GET_IRQ = 0x12
const CMD_SET_TX = 0x83
const CMD_SET_RX = 0x82
const CMD_READ_REGISTER = 0x1d
const CMD_READ_BUFFER = 0x1e
const CMD_GET_RX_BUFFER_STATUS = 0x13
const CMD_GET_PACKET_STATUS = 0x14
const REG_LORA_SYNC_WORD = 0x0740
// SX1261/2 datasheet 15.4 (errata): bit 2 of register 0x0736 must be 0 with inverted IQ, 1 otherwise
const REG_IQ_POLARITY = 0x0736
const IRQ126_TX_DONE = 0x0001
const IRQ126_RX_DONE = 0x0002
const IRQ126_HEADER_ERR = 0x0020
const IRQ126_CRC_ERR = 0x0040
const IRQ126_TIMEOUT = 0x0200

export class Sx126x implements LoraRadio {
    private bus: RadioBus
    private p: LoraParams

    constructor(bus: RadioBus) {
        this.bus = bus
        this.p = null
    }

    private async cmd(op: number, args: number[]): Promise<Buffer> {
        const t0 = ds.millis()
        while (this.bus.busy()) await pollPause(t0, 100, "BUSY")
        const tx = Buffer.alloc(1 + args.length)
        tx[0] = op
        for (let i = 0; i < args.length; i++) tx[1 + i] = args[i]
        return await this.bus.transfer(tx)
    }

    async init(p: LoraParams): Promise<void> {
        this.p = p
        await this.bus.reset()
        await this.cmd(CMD_SET_STANDBY, [0x00]) // STDBY_RC
        await this.cmd(CMD_SET_PACKET_TYPE, [0x01]) // LoRa
        await this.cmd(CMD_SET_REGULATOR_MODE, [0x01]) // DC-DC
        await this.radioParams(p)
        await this.cmd(CMD_SET_PA_CONFIG, [0x04, 0x07, 0x00, 0x01]) // SX1262, up to +22 dBm
        await this.txPower(p)
        await this.cmd(CMD_SET_BUFFER_BASE, [0x00, 0x00])
        await this.cmd(CMD_SET_DIO_IRQ_PARAMS, [0x02, 0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00]) // TxDone|Timeout on DIO1
        await this.syncWord(p)
    }

    async configure(p: LoraParams): Promise<void> {
        await this.cmd(CMD_SET_STANDBY, [0x00])
        this.p = p
        await this.radioParams(p)
        await this.txPower(p)
        await this.syncWord(p)
    }

    private async txPower(p: LoraParams): Promise<void> {
        let pw = p.txPowerDbm
        if (pw < -9) pw = -9
        if (pw > 22) pw = 22
        await this.cmd(CMD_SET_TX_PARAMS, [pw & 255, 0x04]) // ramp 200 us
    }

    private async syncWord(p: LoraParams): Promise<void> {
        // the SX126x sync word register holds the SX127x byte 0xXY as 0xX4 0xY4
        const sw = p.syncWord
        await this.cmd(CMD_WRITE_REGISTER, [
            REG_LORA_SYNC_WORD >> 8,
            REG_LORA_SYNC_WORD & 255,
            (sw & 0xf0) | 0x04,
            ((sw & 0x0f) << 4) | 0x04,
        ])
    }

    /** Frequency and modulation for `p`. */
    private async radioParams(p: LoraParams): Promise<void> {
        // RFfreq = f * 2^25 / 32 MHz
        const frf = Math.round((p.freqHz / 32000000) * 33554432)
        await this.cmd(CMD_SET_RF_FREQUENCY, [(frf >>> 24) & 255, (frf >> 16) & 255, (frf >> 8) & 255, frf & 255])
        const bwCode = p.bwHz === 500000 ? 0x06 : p.bwHz === 250000 ? 0x05 : 0x04
        await this.cmd(CMD_SET_MODULATION_PARAMS, [p.sf, bwCode, p.cr, lowDataRate(p) ? 1 : 0])
    }

    private async iqPolarity(invertIq: boolean): Promise<void> {
        const r = await this.cmd(CMD_READ_REGISTER, [REG_IQ_POLARITY >> 8, REG_IQ_POLARITY & 255, 0x00, 0x00])
        const v = invertIq ? r[4] & 0xfb : r[4] | 0x04
        await this.cmd(CMD_WRITE_REGISTER, [REG_IQ_POLARITY >> 8, REG_IQ_POLARITY & 255, v])
    }

    async receive(p: LoraParams, invertIq: boolean, windowMs: number): Promise<RxPacket> {
        await this.cmd(CMD_SET_STANDBY, [0x00])
        await this.radioParams(p)
        // explicit header, up to 255 bytes, no payload CRC required, IQ as asked
        await this.cmd(CMD_SET_PACKET_PARAMS, [(p.preamble >> 8) & 255, p.preamble & 255, 0x00, 0xff, 0x00, invertIq ? 0x01 : 0x00])
        await this.iqPolarity(invertIq)
        const mask = IRQ126_TX_DONE | IRQ126_RX_DONE | IRQ126_HEADER_ERR | IRQ126_CRC_ERR | IRQ126_TIMEOUT
        await this.cmd(CMD_SET_DIO_IRQ_PARAMS, [mask >> 8, mask & 255, mask >> 8, mask & 255, 0x00, 0x00, 0x00, 0x00])
        await this.cmd(CMD_CLEAR_IRQ, [0xff, 0xff])
        // timeout in steps of 15.625 us (24 bits)
        let t = Math.round(windowMs * 64)
        if (t < 1) t = 1
        if (t > 0xfffffe) t = 0xfffffe
        await this.cmd(CMD_SET_RX, [(t >> 16) & 255, (t >> 8) & 255, t & 255])
        const deadline = windowMs + loraAirtimeMs(255, p) + 100
        const t0 = ds.millis()
        let irq = 0
        while (true) {
            const r = await this.cmd(CMD_GET_IRQ, [0x00, 0x00, 0x00])
            irq = (r[2] << 8) | r[3]
            if ((irq & (IRQ126_RX_DONE | IRQ126_TIMEOUT | IRQ126_HEADER_ERR | IRQ126_CRC_ERR)) !== 0 || ds.millis() - t0 > deadline) break
            await ds.sleep(1)
        }
        let pkt: RxPacket = null
        if ((irq & IRQ126_RX_DONE) !== 0 && (irq & (IRQ126_CRC_ERR | IRQ126_HEADER_ERR)) === 0) {
            const st = await this.cmd(CMD_GET_RX_BUFFER_STATUS, [0x00, 0x00, 0x00])
            const n = st[2]
            const args: number[] = [st[3], 0x00]
            for (let i = 0; i < n; i++) args.push(0)
            const data = await this.cmd(CMD_READ_BUFFER, args)
            const ps = await this.cmd(CMD_GET_PACKET_STATUS, [0x00, 0x00, 0x00, 0x00]) // status, RssiPkt, SnrPkt, SignalRssiPkt
            const snr = ps[3] > 127 ? ps[3] - 256 : ps[3]
            pkt = new RxPacket(data.slice(3, 3 + n), -ps[2] / 2, snr / 4)
        }
        await this.cmd(CMD_CLEAR_IRQ, [0xff, 0xff])
        await this.cmd(CMD_SET_STANDBY, [0x00])
        await this.iqPolarity(false)
        await this.cmd(CMD_SET_DIO_IRQ_PARAMS, [0x02, 0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00])
        await this.radioParams(this.p)
        return pkt
    }

    async transmit(payload: Buffer, timeoutMs: number): Promise<void> {
        if (payload.length < 1 || payload.length > 255) throw new RangeError(`lora: payload of ${payload.length} bytes`)
        const p = this.p
        await this.cmd(CMD_SET_PACKET_PARAMS, [(p.preamble >> 8) & 255, p.preamble & 255, 0x00, payload.length, 0x01, 0x00])
        const args: number[] = [0x00]
        for (let i = 0; i < payload.length; i++) args.push(payload[i])
        await this.cmd(CMD_WRITE_BUFFER, args)
        await this.cmd(CMD_CLEAR_IRQ, [0xff, 0xff])
        await this.cmd(CMD_SET_TX, [0x00, 0x00, 0x00]) // no radio timeout: we poll with our own
        const t0 = ds.millis()
        for (;;) {
            const r = await this.cmd(CMD_GET_IRQ, [0x00, 0x00, 0x00])
            if ((((r[2] << 8) | r[3]) & IRQ126_TX_DONE) !== 0) break
            await pollPause(t0, timeoutMs, "TX done")
        }
        await this.cmd(CMD_CLEAR_IRQ, [0xff, 0xff])
    }
}

/**
 * The LoRa link: one datagram per packet, within the duty cycle. A send that would have to wait
 * longer than `maxWaitMs` for the band returns false (the data stays in the queue).
 */
export class LoraLink implements Link {
    readonly mtu: number
    readonly identifiesSender: boolean
    private radio: LoraRadio
    private p: LoraParams
    readonly duty: DutyCycle
    private maxWaitMs: number
    private now: () => number

    constructor(radio: LoraRadio, p: LoraParams, mtu: number, dutyRatio: number, maxWaitMs: number, now?: () => number) {
        this.radio = radio
        this.p = p
        this.mtu = mtu
        // a raw LoRa packet does not name its sender: fragments carry the 2-byte hint
        this.identifiesSender = false
        this.duty = new DutyCycle(dutyRatio)
        this.maxWaitMs = maxWaitMs
        this.now = now ? now : () => ds.millis()
    }

    async ready(): Promise<boolean> {
        return true
    }

    sendMtu(): number {
        return this.mtu
    }

    clockSeconds(): number {
        return -1
    }

    devEui(): string {
        return ""
    }

    async send(datagram: Buffer): Promise<boolean> {
        const wait = this.duty.waitMs(this.now())
        if (wait > this.maxWaitMs) return false
        if (wait > 0) await ds.sleep(wait)
        const airtime = loraAirtimeMs(datagram.length, this.p)
        const start = this.now()
        try {
            await this.radio.transmit(datagram, 2 * airtime + 200)
        } catch (e) {
            console.log(`sceau-error ${(e as Error).message}`)
            return false
        }
        this.duty.record(start, airtime)
        return true
    }
}
