// Fake SX1276 and SX1262 register/command models for tests in the DeviceScript VM, where SPI
// does not exist. They follow the datasheets' SPI framing and keep what a test needs: the
// registers or parameters written, the packets "sent", and TX done raised when TX is started.
// They check framing, not RF: see README.md for what was verified on hardware.
import { RadioBus } from "./lora"
import { printLong } from "./console-lines"

export class FakeSx1276 implements RadioBus {
    regs: Buffer
    fifo: Buffer
    sent: Buffer[]
    resets: number
    /** print every packet sent as "sceau-radio <hex>" (and keep none), for whole-firmware runs */
    echo: boolean

    constructor() {
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
            if (lora && (v & 7) === 3) {
                const base = this.regs[0x0e]
                const len = this.regs[0x22]
                const pkt = Buffer.alloc(len)
                for (let i = 0; i < len; i++) pkt[i] = this.fifo[(base + i) & 255]
                if (this.echo) printLong("sceau-radio", pkt.toString("hex"))
                else this.sent.push(pkt)
                this.regs[0x12] |= 0x08 // TxDone
                this.regs[0x01] = (v & 0xf8) | 1 // back to standby
            }
            return
        }
        this.regs[addr] = v
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

    constructor() {
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
}
