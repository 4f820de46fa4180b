// Fake SX1276 and SX1262 register/command models for tests in the DeviceScript VM, where SPI
// does not exist. They follow the datasheets' SPI framing and keep what a test needs: the
// registers or parameters written, the packets "sent", and TX done raised when TX is started.
// They check framing, not RF: see README.md for what was verified on hardware.
import { RadioBus } from "./lora"
import { printLong } from "./console-lines"

function hexBytes(v: number, n: number): string {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = (v >>> (8 * (n - 1 - i))) & 255
    return b.toString("hex")
}

/** A packet on air for a fake radio, and how it was modulated. */
export class AirPacket {
    payload: Buffer
    freqHz: number
    sf: number
    bwHz: number
    invertedIq: boolean
    rssiDbm: number
    snrDb: number
    constructor(payload: Buffer, freqHz: number, sf: number, bwHz: number, invertedIq: boolean) {
        this.payload = payload
        this.freqHz = freqHz
        this.sf = sf
        this.bwHz = bwHz
        this.invertedIq = invertedIq
        this.rssiDbm = -80
        this.snrDb = 7.25
    }
}

export class FakeSx1276 implements RadioBus {
    regs: Buffer
    fifo: Buffer
    sent: Buffer[]
    resets: number
    /** print every packet sent as "sceau-radio <hex>" (and keep none), for whole-firmware runs */
    echo: boolean
    air: AirPacket
    /** per RX started: "frf mc1 mc2 symbTimeoutLsb invertIq invertIq2" (hex registers) */
    rxLog: string[]

    constructor() {
        this.air = null
        this.rxLog = []
        this.echo = false
        this.regs = Buffer.alloc(128)
        this.fifo = Buffer.alloc(256)
        this.sent = []
        this.resets = 0
    }

    async reset(): Promise<void> {
        this.resets++
        this.regs.fillAt(0, 128, 0)
        this.regs[0x01] = 0x09 // FSK standby after reset
        this.regs[0x42] = 0x12 // RegVersion
    }

    busy(): boolean {
        return false
    }

    async transfer(tx: Buffer): Promise<Buffer> {
        const rx = Buffer.alloc(tx.length)
        const write = (tx[0] & 0x80) !== 0
        let addr = tx[0] & 0x7f
        for (let i = 1; i < tx.length; i++) {
            if (addr === 0x00) {
                // FIFO: access at RegFifoAddrPtr, which auto-increments
                const ptr = this.regs[0x0d]
                if (write) this.fifo[ptr] = tx[i]
                else rx[i] = this.fifo[ptr]
                this.regs[0x0d] = (ptr + 1) & 255
                continue
            }
            if (write) this.writeReg(addr, tx[i])
            else rx[i] = this.regs[addr]
            addr = (addr + 1) & 0x7f
        }
        return rx
    }

    private writeReg(addr: number, v: number): void {
        if (addr === 0x12) {
            this.regs[0x12] &= ~v // RegIrqFlags: write 1 to clear
            return
        }
        if (addr === 0x01) {
            // LongRangeMode can only be modified in sleep mode; elsewhere that bit of a write is ignored
            if ((this.regs[0x01] & 7) !== 0) v = (v & 0x7f) | (this.regs[0x01] & 0x80)
            const lora = (v & 0x80) !== 0
            this.regs[0x01] = v
            if (lora && (v & 7) === 6) {
                this.rxSingle()
                this.regs[0x01] = (v & 0xf8) | 1 // RX single ends in standby
                return
            }
            if (lora && (v & 7) === 3) {
                const base = this.regs[0x0e]
                const len = this.regs[0x22]
                const pkt = Buffer.alloc(len)
                for (let i = 0; i < len; i++) pkt[i] = this.fifo[(base + i) & 255]
                if (this.echo) {
                    // how the chip is set up to send it, from its registers (Frf in Hz rounded to 100 Hz)
                    const frf = (this.regs[6] << 16) | (this.regs[7] << 8) | this.regs[8]
                    const hz = Math.round((frf * 32000000) / 524288 / 100) * 100
                    const bwCode = this.regs[0x1d] >> 4
                    const bw = bwCode === 9 ? 500000 : bwCode === 8 ? 250000 : bwCode === 7 ? 125000 : 0
                    console.log(`sceau-radio-tx ${hz} ${this.regs[0x1e] >> 4} ${bw} ${hexBytes(this.regs[0x39], 1)}`)
                    printLong("sceau-radio", pkt.toString("hex"))
                }
                else this.sent.push(pkt)
                this.regs[0x12] |= 0x08 // TxDone
                this.regs[0x01] = (v & 0xf8) | 1 // back to standby
            }
            return
        }
        this.regs[addr] = v
    }

    putOnAir(pkt: AirPacket): void {
        this.air = pkt
    }

    private rxSingle(): void {
        const r = this.regs
        const b = (x: number) => hexBytes(x, 1)
        // (a template literal with more than 8 substitutions crashes the compiler)
        this.rxLog.push(`${b(r[6])}${b(r[7])}${b(r[8])} ${b(r[0x1d])} ${b(r[0x1e])}` + ` ${b(r[0x1f])} ${b(r[0x33])} ${b(r[0x3b])}`)
        const a = this.air
        const bwCode = a === null ? -1 : a.bwHz === 500000 ? 9 : a.bwHz === 250000 ? 8 : 7
        const frf = a === null ? -1 : Math.round((a.freqHz / 32000000) * 524288)
        const inverted = (r[0x33] & 0x40) !== 0 && r[0x3b] === 0x19
        const normal = (r[0x33] & 0x40) === 0 && r[0x3b] === 0x1d
        const match =
            a !== null &&
            ((r[6] << 16) | (r[7] << 8) | r[8]) === frf &&
            r[0x1e] >> 4 === a.sf &&
            r[0x1d] >> 4 === bwCode &&
            (a.invertedIq ? inverted : normal)
        if (match === false) {
            r[0x12] |= 0x80 // RxTimeout
            return
        }
        const base = r[0x0f]
        for (let i = 0; i < a.payload.length; i++) this.fifo[(base + i) & 255] = a.payload[i]
        r[0x10] = base
        r[0x13] = a.payload.length
        r[0x19] = Math.round(a.snrDb * 4) & 255
        r[0x1a] = a.rssiDbm + 157
        r[0x12] |= 0x50 // RxDone, ValidHeader
        this.air = null
    }
}

export class FakeSx1262 implements RadioBus {
    buffer: Buffer
    sent: Buffer[]
    /** last arguments of each command, by opcode, as hex */
    last: string[]
    irq: number
    packetLength: number
    syncWord: Buffer
    resets: number
    busyCount: number
    air: AirPacket
    /** register 0x0736 (IQ polarity setup, bit 2 set after reset) */
    iqReg: number
    rxLen: number
    rxBase: number
    /** per RX started: "<SetRfFrequency args> <SetModulationParams args> <SetPacketParams args> <reg 0x0736> <SetRx args>" */
    rxLog: string[]
    lastRx: AirPacket

    constructor() {
        this.air = null
        this.lastRx = null
        this.iqReg = 0x0d
        this.rxLen = 0
        this.rxBase = 0
        this.rxLog = []
        this.buffer = Buffer.alloc(256)
        this.sent = []
        this.last = []
        for (let i = 0; i < 256; i++) this.last.push("")
        this.irq = 0
        this.packetLength = 0
        this.syncWord = Buffer.alloc(2)
        this.resets = 0
        this.busyCount = 0
    }

    async reset(): Promise<void> {
        this.resets++
        this.busyCount = 3 // BUSY stays high for a moment after reset
    }

    busy(): boolean {
        if (this.busyCount > 0) {
            this.busyCount--
            return true
        }
        return false
    }

    async transfer(tx: Buffer): Promise<Buffer> {
        const rx = Buffer.alloc(tx.length)
        const op = tx[0]
        this.last[op] = tx.slice(1).toString("hex")
        if (op === 0x0e) {
            const off = tx[1]
            for (let i = 2; i < tx.length; i++) this.buffer[(off + i - 2) & 255] = tx[i]
        } else if (op === 0x0d) {
            if (tx[1] === 0x07 && tx[2] === 0x40) {
                this.syncWord[0] = tx[3]
                this.syncWord[1] = tx[4]
            }
            if (tx[1] === 0x07 && tx[2] === 0x36) this.iqReg = tx[3]
        } else if (op === 0x1d) {
            // ReadRegister: opcode, address (2), status, then data
            if (tx[1] === 0x07 && tx[2] === 0x36) rx[4] = this.iqReg
        } else if (op === 0x82) {
            this.setRx(tx)
        } else if (op === 0x13) {
            rx[2] = this.rxLen
            rx[3] = this.rxBase
        } else if (op === 0x1e) {
            // ReadBuffer: opcode, offset, status, then data
            for (let i = 3; i < tx.length; i++) rx[i] = this.buffer[(tx[1] + i - 3) & 255]
        } else if (op === 0x14) {
            const a = this.lastRx
            rx[2] = -2 * a.rssiDbm
            rx[3] = Math.round(4 * a.snrDb) & 255
            rx[4] = rx[2]
        } else if (op === 0x8c) {
            this.packetLength = tx[4]
        } else if (op === 0x02) {
            this.irq &= ~((tx[1] << 8) | tx[2])
        } else if (op === 0x12) {
            rx[2] = (this.irq >> 8) & 255
            rx[3] = this.irq & 255
        } else if (op === 0x83) {
            this.sent.push(this.buffer.slice(0, this.packetLength))
            this.irq |= 0x0001 // TxDone
        }
        return rx
    }

    putOnAir(pkt: AirPacket): void {
        this.air = pkt
    }

    private setRx(tx: Buffer): void {
        this.rxLog.push(`${this.last[0x86]} ${this.last[0x8b]} ${this.last[0x8c]} ${hexBytes(this.iqReg, 1)} ${tx.slice(1).toString("hex")}`)
        const a = this.air
        const mod = Buffer.from(this.last[0x8b], "hex")
        const pkt = Buffer.from(this.last[0x8c], "hex")
        const bwCode = a === null ? -1 : a.bwHz === 500000 ? 6 : a.bwHz === 250000 ? 5 : 4
        const rf = a === null ? -1 : Math.round((a.freqHz / 32000000) * 33554432)
        const inverted = pkt[5] === 1 && (this.iqReg & 4) === 0
        const normal = pkt[5] === 0 && (this.iqReg & 4) !== 0
        const match =
            a !== null &&
            this.last[0x86] === hexBytes(rf, 4) &&
            mod[0] === a.sf &&
            mod[1] === bwCode &&
            (a.invertedIq ? inverted : normal)
        if (match === false) {
            this.irq |= 0x0200 // Timeout
            return
        }
        this.rxBase = 0x80
        for (let i = 0; i < a.payload.length; i++) this.buffer[(this.rxBase + i) & 255] = a.payload[i]
        this.rxLen = a.payload.length
        this.lastRx = a
        this.air = null
        this.irq |= 0x0002 // RxDone
    }
}
