// Host-settable sensors for the firmware in the DeviceScript VM: a tiny Jacdac device emulated
// in Node that announces a temperature and a humidity service on the VM's packet bus and answers
// reads of their `reading` register. The firmware binds them as ordinary roles (ds.Temperature,
// ds.Humidity), exactly as it binds the SHT30/AHT20 drivers on a board.
// Jacdac framing (https://microsoft.github.io/jacdac-docs/reference/protocol/): 12-byte frame
// header (CRC-16-CCITT over the rest, data size, flags, 64-bit device id), then packets of a
// 4-byte header (payload size, service index, command) and a payload padded to 4 bytes.

const SRV_TEMPERATURE = 0x1421bac7
const SRV_HUMIDITY = 0x16c810b8
const REG_READING = 0x101
const CMD_GET_REG = 0x1000
const FLAG_COMMAND = 0x01

function crc16(buf, start, end) {
    let crc = 0xffff
    for (let i = start; i < end; i++) {
        crc ^= buf[i] << 8
        for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    }
    return crc
}

function frame(deviceId, flags, packets) {
    const parts = packets.map(({ serviceIndex, command, payload }) => {
        const n = 4 + payload.length
        const b = new Uint8Array((n + 3) & ~3)
        b[0] = payload.length
        b[1] = serviceIndex
        b[2] = command & 0xff
        b[3] = command >> 8
        b.set(payload, 4)
        return b
    })
    const size = parts.reduce((a, p) => a + p.length, 0)
    const f = new Uint8Array(12 + size)
    f[2] = size
    f[3] = flags
    f.set(deviceId, 4)
    let off = 12
    for (const p of parts) {
        f.set(p, off)
        off += p.length
    }
    const c = crc16(f, 2, f.length)
    f[0] = c & 0xff
    f[1] = c >> 8
    return f
}

const u32 = v => {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, v >>> 0, true)
    return b
}
const i32 = v => {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setInt32(0, v, true)
    return b
}

export class VmClimateSensors {
    /**
     * `inst`: a VM instance from startVm(). Values are in the channels' units: temperature in
     * degrees Celsius, humidity in %RH (the firmware scales them by 100 into channels 1 and 2).
     */
    constructor(inst, { deviceId = "5ce0500000000001", temperature = 21.5, humidity = 45 } = {}) {
        this.inst = inst
        this.id = Uint8Array.from(Buffer.from(deviceId, "hex"))
        this.values = { 1: temperature, 2: humidity }
        this.reads = 0
        this.restarts = 1
        const previous = inst.sendPacket
        inst.sendPacket = pkt => {
            this.onFrame(pkt)
            return previous ? previous(pkt) : 0
        }
        this.timer = setInterval(() => this.announce(), 400)
        this.announce()
    }

    set(temperature, humidity) {
        if (temperature !== undefined) this.values[1] = temperature
        if (humidity !== undefined) this.values[2] = humidity
    }

    stop() {
        clearInterval(this.timer)
    }

    send(f) {
        // never re-enter the VM from inside its own sendPacket callback
        setImmediate(() => {
            try {
                this.inst.handlePacket(f)
            } catch {}
        })
    }

    announce() {
        this.send(announceFrame(this.id, this.restarts))
    }

    onFrame(f) {
        for (const serviceIndex of readingRequests(f, this.id)) {
            this.reads++
            this.send(readingReply(this.id, serviceIndex, this.values[serviceIndex]))
        }
    }
}

/**
 * The reading registers (service 1 temperature, 2 humidity) that a command frame sent by the VM
 * asks the emulated device `deviceId` for.
 */
export function readingRequests(f, deviceId) {
    const b = Uint8Array.from(f)
    const services = []
    if (b.length < 16 || !(b[3] & FLAG_COMMAND)) return services
    for (let i = 0; i < 8; i++) if (b[4 + i] !== deviceId[i]) return services
    let off = 12
    const end = 12 + b[2]
    while (off + 4 <= end) {
        const size = b[off]
        const serviceIndex = b[off + 1]
        const command = b[off + 2] | (b[off + 3] << 8)
        if (command === (CMD_GET_REG | REG_READING) && (serviceIndex === 1 || serviceIndex === 2)) services.push(serviceIndex)
        off += (4 + size + 3) & ~3
    }
    return services
}

/** The device's answer to a reading request: `value` (degrees, %RH) as i22.10 fixed point. */
export function readingReply(deviceId, serviceIndex, value) {
    return frame(deviceId, 0, [{ serviceIndex, command: CMD_GET_REG | REG_READING, payload: i32(Math.round(value * 1024)) }])
}

/** The control announce of a temperature + humidity device (restart counter in the low 4 bits). */
export function announceFrame(deviceId, restarts = 1) {
    const payload = new Uint8Array(4 + 8)
    payload[0] = restarts
    payload[1] = 0x01 // supports ACK
    payload.set(u32(SRV_TEMPERATURE), 4)
    payload.set(u32(SRV_HUMIDITY), 8)
    return frame(deviceId, 0, [{ serviceIndex: 0, command: 0, payload }])
}

// for hosts that emulate other Jacdac traffic (scripts/sim-device.mjs)
export { frame as jacdacFrame, SRV_TEMPERATURE, SRV_HUMIDITY, REG_READING, CMD_GET_REG, FLAG_COMMAND }
