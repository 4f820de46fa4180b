// The firmware as a device of the fleet simulator (`sceau-sim run --firmware-vm K`): the VM image
// of src/main.ts (jacdac sensor roles, console link) run in the DeviceScript VM on the
// simulator's virtual clock instead of the wall clock.
//
// How: the VM module's clock and random source are hooked (scripts/devs-vm.mjs: `timeNow`,
// `randomBytes`) and the VM is never started on its own timer; the host calls `step(t)`, which
// sets the clock to `t`, runs the VM (the runtime's `_jd_em_process`) until it has nothing to do
// at `t`, and returns the virtual time at which the VM asks to run next. Computation costs no
// virtual time: a signature that takes 30 ms of wall time takes 0 ms of the device's time, as if
// the CPU were infinitely fast; sleeps, timeouts and `ds.millis()` follow the host's clock, so
// the firmware's sampling interval, its readings' ages and its sensor timeouts are virtual.
//
// Sensors: a Jacdac device emulated here (the same framing as scripts/jd-sensors.mjs) announces
// temperature and humidity services and answers the firmware's reads with the values of
// `read(kind, tMs)`; null means the sensor does not answer (the firmware times out and leaves the
// reading out). Provisioning: the seed is written into the VM's settings through the runtime's
// own Jacdac settings service (`set sceau_seed`), before the firmware boots, as a provisioning
// tool would; the firmware then reads it with loadOrCreateSeed() and prints its key line.
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildEntry, configSource } from "./build.mjs"
import { FIRMWARE_DIR, consoleDatagrams, loadFactory } from "./devs-vm.mjs"
import { FLAG_COMMAND, announceFrame, jacdacFrame, readingReply, readingRequests } from "./jd-sensors.mjs"

const SRV_SETTINGS = 0x1107dc4a
const SETTINGS_CMD_SET = 0x81
const ANNOUNCE_MS = 400
/** Runs of the VM at one virtual instant before it is declared stuck. */
const MAX_RUNS_PER_STEP = 1_000_000

/** The firmware configuration the simulator builds with (src/config.ts overrides). */
export function simConfig({ intervalMs, batch = 1, withKid = true } = {}) {
    return {
        VM_SENSORS: "jacdac",
        SAMPLE_INTERVAL_MS: intervalMs,
        BATCH_SIZE: batch,
        WITH_KID: withKid,
        LINK: "console",
        // frames go out whole: fragmentation is the simulator's link model
        LINK_MTU: 65535,
        LINK_IDENTIFIES_SENDER: true,
        MAX_FRAMES: 0,
    }
}

function sourceDigest() {
    const h = createHash("sha256")
    const src = join(FIRMWARE_DIR, "src")
    for (const f of readdirSync(src).sort()) h.update(f).update("\0").update(readFileSync(join(src, f))).update("\0")
    return h
}

/**
 * The firmware configuration of a LoRaWAN device of `sceau sim lorawan --firmware-vm K`: the real
 * LoRaWAN link (src/lorawan-link.ts) on the host-driven fake radio (src/lora-air-fake.ts), whose
 * uplinks the simulator's GWMP gateways forward and whose receive windows hear their downlinks.
 * `region`: "EU868" or "US915"; `dr`: the first join-request's data rate (OTAA) or the session's (ABP).
 */
export function simLorawanConfig({ intervalMs, region, dr, subBand = 2 }) {
    return {
        VM_SENSORS: "jacdac",
        SAMPLE_INTERVAL_MS: intervalMs,
        BATCH_SIZE: 1,
        WITH_KID: true,
        LINK: "lorawan-fake",
        LORAWAN_REGION: region,
        LORAWAN_SUB_BAND: subBand,
        LORAWAN_JOIN_DR: dr,
        LORAWAN_ABP_DR: dr,
        MAX_FRAMES: 0,
    }
}

/** A VM image of src/main.ts with `config` (src/config.ts overrides), cached by the hash of the sources and the configuration. */
function cachedBuild(prefix, config) {
    const source = configSource(config)
    const key = sourceDigest().update(source).digest("hex").slice(0, 24)
    const dir = process.env.SCEAU_FIRMWARE_CACHE ?? join(tmpdir(), "sceau-firmware-cache")
    const file = join(dir, `${prefix}-${key}.devs`)
    if (existsSync(file)) return { binary: new Uint8Array(readFileSync(file)), cached: true, buildMs: 0 }
    const t0 = performance.now()
    const { binary } = buildEntry("src/main.ts", { "src/config.ts": source })
    mkdirSync(dir, { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, binary)
    renameSync(tmp, file)
    return { binary, cached: false, buildMs: Math.round(performance.now() - t0) }
}

/**
 * The VM image of src/main.ts built with simConfig(options), cached by the hash of the sources
 * and the configuration (a build takes ~8 s) in $SCEAU_FIRMWARE_CACHE or the temp directory.
 * Returns { binary, cached, buildMs }.
 */
export function buildSimFirmware(options) {
    return cachedBuild("sim", simConfig(options))
}

/** The VM image of src/main.ts built with simLorawanConfig(options), cached like buildSimFirmware's. */
export function buildSimLorawanFirmware(options) {
    return cachedBuild("sim-lorawan", simLorawanConfig(options))
}

function hexId(deviceId) {
    return Uint8Array.from(Buffer.from(deviceId, "hex"))
}

/** A settings `set` command packet for the VM's own settings service (value: JSON, as writeSetting stores it). */
function settingsSet(vmId, serviceIndex, key, value) {
    const k = Buffer.from(key + "\0", "utf8")
    const v = Buffer.from(JSON.stringify(value), "utf8")
    const payload = new Uint8Array(k.length + v.length)
    payload.set(k, 0)
    payload.set(v, k.length)
    return jacdacFrame(vmId, FLAG_COMMAND, [{ serviceIndex, command: SETTINGS_CMD_SET, payload }])
}

let settingsIndexCache = new WeakMap()

/**
 * One firmware device on a virtual clock. Create with `await SimFirmwareDevice.start(binary, {...})`,
 * then call `step(t)` at the times it asks for (`nextAt`), in increasing order. Frames come out of
 * `takeFrames()` as { t, hex } (t: the virtual time at which the firmware printed them).
 */
export class SimFirmwareDevice {
    /**
     * `deviceId`: 16 hex characters (the VM's Jacdac device id); `seed`: the 32-byte Ed25519 seed
     * provisioned into its settings (Uint8Array), or null to let the firmware generate one;
     * `random(n)`: the VM's "hardware" random bytes (deterministic runs pass a PRNG);
     * `read(kind, tMs)`: the sensor value in channel units (0.01 Cel, 0.01 %RH) or null;
     * `flash`: { data } kept across boots; `t0`: the virtual time of power-on; `contentKey`: a
     * 32-byte content key provisioned with the seed (the firmware then seals record version 2).
     */
    static async start(binary, { deviceId, sensorId, seed = null, random, read, flash = {}, t0 = 0, contentKey = null }) {
        const d = new SimFirmwareDevice()
        await d.boot(binary, { deviceId, sensorId, seed, random, read, flash, t0, contentKey })
        return d
    }

    async boot(binary, { deviceId, sensorId, seed, random, read, flash, t0, contentKey = null }) {
        this.now = t0
        this.nextAt = t0
        this.binary = binary
        this.read = read
        this.lines = []
        this.frames = []
        this.errors = []
        this.keyLine = null
        this.inbox = []
        this.panic = null
        this.steps = 0
        this.runs = 0
        this.sensorReads = 0
        this.vmId = hexId(deviceId)
        this.sensorId = hexId(sensorId ?? "5ce05e0500000000")
        this.nextAnnounce = t0
        this.cur = { 1: null, 2: null }
        const inst = await loadFactory()({ print: () => {}, printErr: () => {} })
        this.inst = inst
        inst.timeNow = () => this.now
        if (random) inst.randomBytes = random
        inst.dmesg = s => this.onDmesg(s)
        inst.log = () => {}
        inst.error = (...a) => this.errors.push(a.join(" "))
        inst.sendPacket = pkt => {
            this.onVmFrame(pkt)
            return 0
        }
        inst.panicHandler = code => {
            if (code) this.panic = code
        }
        inst.flashLoad = () => flash.data ?? new Uint8Array(0)
        inst.flashSave = buf => {
            flash.data = new Uint8Array(buf)
        }
        inst.devsGcStress(false)
        // the 64-bit Jacdac device id as two 32-bit halves (a string id would be hashed)
        const idView = new DataView(this.vmId.buffer)
        inst.devsSetDeviceId(idView.getInt32(4, true), idView.getInt32(0, true))
        const r = inst.devsDeploy(binary)
        if (r) throw new Error(`sim-device: deploy error ${r}`)
        if (seed !== null) {
            const index = await settingsServiceIndex(binary)
            this.inbox.push(settingsSet(this.vmId, index, "sceau_seed", Buffer.from(seed).toString("hex")))
        }
        if (contentKey !== null) {
            const index = await settingsServiceIndex(binary)
            this.inbox.push(settingsSet(this.vmId, index, "sceau_ckey", Buffer.from(contentKey).toString("hex")))
        }
    }

    onDmesg(s) {
        for (const line of String(s).split("\n")) {
            if (!line.startsWith("> ")) continue
            const l = line.slice(2)
            if (this.onLine) this.onLine(l, this.now)
            if (l.startsWith("sceau-key ")) this.keyLine = l
            else if (l.startsWith("sceau-error")) this.errors.push(l)
            this.lines.push(l)
            if (/^sceau-(frame|fragment) /.test(l)) {
                for (const d of consoleDatagrams(this.lines)) this.frames.push({ t: this.now, kind: d.kind, hex: d.hex })
                this.lines = []
            } else if (!/^sceau-(frame|fragment)\+ /.test(l)) this.lines = []
        }
    }

    /** Packets the VM sends on its bus: the sensors answer reads addressed to them. */
    onVmFrame(pkt) {
        const b = Uint8Array.from(pkt)
        if (this.onAnyFrame) this.onAnyFrame(b)
        for (const serviceIndex of readingRequests(b, this.sensorId)) {
            this.sensorReads++
            const v = this.read(serviceIndex === 1 ? "temperature" : "humidity", this.now)
            // hundredths from the sensor model; the firmware rounds the i22.10 reply back to
            // hundredths exactly (|error| <= 0.05 hundredths)
            if (v !== null && v !== undefined) this.inbox.push(readingReply(this.sensorId, serviceIndex, v / 100))
        }
    }

    /**
     * Writes a setting through the runtime's settings service, as a provisioning tool or a test
     * host does (delivered at the next step). `onLine(line, t)`, when set, sees every console line.
     */
    async setSetting(key, value) {
        const index = await settingsServiceIndex(this.binary)
        this.inbox.push(settingsSet(this.vmId, index, key, value))
    }

    announce() {
        this.inbox.push(announceFrame(this.sensorId))
    }

    inject(f) {
        const inst = this.inst
        const ptr = inst._malloc(f.length)
        inst.HEAPU8.set(f, ptr)
        inst._jd_em_frame_received(ptr)
        inst._free(ptr)
    }

    /** Runs the VM at virtual time `t` (>= the previous step) until it waits; returns the next time it wants to run. */
    step(t) {
        if (t < this.now) throw new Error(`sim-device: time went back from ${this.now} to ${t}`)
        this.now = t
        this.steps++
        if (t >= this.nextAnnounce) {
            this.announce()
            this.nextAnnounce = t + ANNOUNCE_MS
        }
        let us = 0
        for (let i = 0; ; i++) {
            while (this.inbox.length > 0) this.inject(this.inbox.shift())
            us = this.inst._jd_em_process()
            this.runs++
            if (this.panic !== null) throw new Error(`sim-device: the firmware panicked with code ${this.panic}${this.errors.length ? `: ${this.errors.join("; ")}` : ""}`)
            if (this.inbox.length === 0 && us > 0) break
            if (i > MAX_RUNS_PER_STEP) throw new Error("sim-device: the VM does not yield")
        }
        const err = this.errors.find(e => e.startsWith("sceau-error"))
        if (err) throw new Error(`sim-device: ${err}`)
        this.nextAt = Math.min(t + Math.max(1, Math.ceil(us / 1000)), this.nextAnnounce)
        return this.nextAt
    }

    /** Frames printed since the last call: [{ t, kind, hex }]. */
    takeFrames() {
        const f = this.frames
        this.frames = []
        return f
    }

    /** Drops the VM (a power cut, or the end of the run); its flash object survives. */
    stop() {
        this.inst = null
    }
}

/** The index of the runtime's settings service (the same for every instance of an image), from its announce. */
async function settingsServiceIndex(binary) {
    const hit = settingsIndexCache.get(binary)
    if (hit !== undefined) return hit
    const probe = await SimFirmwareDevice.start(binary, { deviceId: "5ce0000000000001", read: () => null, random: n => new Uint8Array(n) })
    let index = -1
    probe.onAnyFrame = b => {
        // an announce of the VM itself: service 0, command 0, payload = 4 bytes then u32 classes
        if (b[12 + 1] !== 0 || b[12 + 2] !== 0 || b[12 + 3] !== 0) return
        for (let i = 0; i < 8; i++) if (b[4 + i] !== probe.vmId[i]) throw new Error(`sim-device: the VM runs as ${Buffer.from(b.subarray(4, 12)).toString("hex")}, not as the device id it was given`)
        const size = b[12]
        const dv = new DataView(b.buffer, b.byteOffset + 16, size)
        for (let k = 4; k + 4 <= size; k += 4) if (dv.getUint32(k, true) === SRV_SETTINGS) index = k / 4
    }
    for (let t = 0; index < 0 && t < 5000; ) t = probe.step(t)
    probe.stop()
    if (index < 0) throw new Error("sim-device: the VM announces no settings service")
    settingsIndexCache.set(binary, index)
    return index
}
