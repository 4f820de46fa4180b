#!/usr/bin/env node
// npm run -w firmware lorawan-vectors -- IN.json OUT.json
// Runs the firmware's LoRaWAN 1.0.x frame coding (src/lorawan-frames.ts, src/cmac.ts, src/aes.ts)
// in the DeviceScript VM on every item of IN.json and writes one result per item to OUT.json, in
// order. The schema is in firmware/README.md ("LoRaWAN vectors"). Exit 0 when every item was
// processed (results with ok: false included), 2 for malformed input, 4 when the VM fails.
import { readFileSync, renameSync, writeFileSync } from "node:fs"
import net from "node:net"
import { resolve } from "node:path"
import { buildEntry } from "./build.mjs"
import { runToMarker } from "./devs-vm.mjs"

/** Malformed input (exit 2). */
export class LorawanInputError extends Error {}

const MAX_PHY = 255 // a LoRa packet carries at most 255 bytes
const BATCH = 8 // cases per exchange with the VM (its heap holds the batch's lines and results)

function hexField(item, i, name, bytes, { optional = false } = {}) {
    const v = item[name]
    if (optional && (v === undefined || v === null)) return null
    if (typeof v !== "string" || !/^([0-9a-fA-F]{2})*$/.test(v))
        throw new LorawanInputError(`item ${i}: ${name}: expected a hex string${bytes === undefined ? "" : ` of ${bytes} bytes`}`)
    if (bytes !== undefined && v.length !== 2 * bytes)
        throw new LorawanInputError(`item ${i}: ${name}: expected ${bytes} bytes (${2 * bytes} hex digits), got ${v.length / 2}`)
    return v.toLowerCase()
}

function intField(item, i, name, max) {
    const v = item[name]
    if (!Number.isInteger(v) || v < 0 || v > max) throw new LorawanInputError(`item ${i}: ${name}: expected an integer 0..${max}`)
    return v
}

function boolField(item, i, name, { optional = false } = {}) {
    const v = item[name]
    if (optional && v === undefined) return false
    if (typeof v !== "boolean") throw new LorawanInputError(`item ${i}: ${name}: expected true or false`)
    return v
}

/** A number field given as big-endian hex of exactly `digits` digits (joinNonce, netId, devNonce). */
function hexNumber(item, i, name, digits) {
    const v = item[name]
    if (typeof v !== "string" || !new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(v))
        throw new LorawanInputError(`item ${i}: ${name}: expected ${digits} hex digits (big-endian)`)
    return parseInt(v, 16)
}

/** Checks one item and returns the case the VM runs (numbers as numbers, hex lower-case). */
export function checkItem(item, i) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw new LorawanInputError(`item ${i}: expected an object`)
    switch (item.op) {
        case "join-request":
            return {
                op: item.op,
                appKey: hexField(item, i, "appKey", 16),
                joinEui: hexField(item, i, "joinEui", 8),
                devEui: hexField(item, i, "devEui", 8),
                devNonce: hexNumber(item, i, "devNonce", 4),
            }
        case "join-accept":
            return {
                op: item.op,
                appKey: hexField(item, i, "appKey", 16),
                devNonce: hexNumber(item, i, "devNonce", 4),
                phyPayload: phyField(item, i),
            }
        case "uplink": {
            const c = {
                op: item.op,
                nwkSKey: hexField(item, i, "nwkSKey", 16),
                appSKey: hexField(item, i, "appSKey", 16),
                devAddr: hexField(item, i, "devAddr", 4),
                fCnt: intField(item, i, "fCnt", 0xffffffff),
                fPort: item.fPort === null ? null : intField(item, i, "fPort", 255),
                payload: boundedHex(item, i, "payload"),
                confirmed: boolField(item, i, "confirmed"),
                fOpts: hexField(item, i, "fOpts", undefined, { optional: true }),
                adr: boolField(item, i, "adr", { optional: true }),
                adrAckReq: boolField(item, i, "adrAckReq", { optional: true }),
                ack: boolField(item, i, "ack", { optional: true }),
            }
            const fOptsLen = c.fOpts === null ? 0 : c.fOpts.length / 2
            if (fOptsLen > 15) throw new LorawanInputError(`item ${i}: fOpts: at most 15 bytes`)
            if (c.fPort === 0 && fOptsLen > 0) throw new LorawanInputError(`item ${i}: fOpts: not allowed with fPort 0 (LoRaWAN 1.0.4 section 4.3.1.6)`)
            if (c.fPort === null && c.payload.length > 0) throw new LorawanInputError(`item ${i}: payload: a frame without fPort carries no payload`)
            const phyLen = 12 + fOptsLen + (c.fPort === null ? 0 : 1) + c.payload.length / 2
            if (phyLen > MAX_PHY) throw new LorawanInputError(`item ${i}: the frame would be ${phyLen} bytes (a LoRa packet carries at most ${MAX_PHY})`)
            return c
        }
        case "downlink":
            return {
                op: item.op,
                nwkSKey: hexField(item, i, "nwkSKey", 16),
                appSKey: hexField(item, i, "appSKey", 16),
                devAddr: hexField(item, i, "devAddr", 4),
                fCntDown: intField(item, i, "fCntDown", 0xffffffff),
                phyPayload: phyField(item, i),
            }
        // low-level ops, for vectors that fix only one step
        case "aes":
            return { op: item.op, key: keyField(item, i, "key"), plaintext: hexField(item, i, "plaintext", 16) }
        case "cmac":
            return { op: item.op, key: keyField(item, i, "key"), message: hexField(item, i, "message") }
        // record version 2's crypto (src/ccm.ts, src/hkdf.ts), run by the same harness
        case "ccm":
            return { op: item.op, key: keyField(item, i, "key"), nonce: hexField(item, i, "nonce", 13), aad: boundedHex(item, i, "aad"), plaintext: boundedHex(item, i, "plaintext") }
        case "hkdf":
            return { op: item.op, ikm: boundedHex(item, i, "ikm"), salt: boundedHex(item, i, "salt"), info: boundedHex(item, i, "info"), length: intField(item, i, "length", 255) }
        case "session-keys":
            return {
                op: item.op,
                appKey: hexField(item, i, "appKey", 16),
                joinNonce: hexNumber(item, i, "joinNonce", 6),
                netId: hexNumber(item, i, "netId", 6),
                devNonce: hexNumber(item, i, "devNonce", 4),
            }
        case "frm-payload":
            return {
                op: item.op,
                key: hexField(item, i, "key", 16),
                dir: dirField(item, i),
                devAddr: hexField(item, i, "devAddr", 4),
                fCnt: intField(item, i, "fCnt", 0xffffffff),
                payload: boundedHex(item, i, "payload"),
            }
        case "data-mic": {
            const c = {
                op: item.op,
                nwkSKey: hexField(item, i, "nwkSKey", 16),
                dir: dirField(item, i),
                devAddr: hexField(item, i, "devAddr", 4),
                fCnt: intField(item, i, "fCnt", 0xffffffff),
                msg: boundedHex(item, i, "msg"),
            }
            if (c.msg.length === 0) throw new LorawanInputError(`item ${i}: msg: expected at least one byte (MHDR)`)
            return c
        }
        case "region":
            return {
                op: item.op,
                region: regionField(item, i),
                freqs: intList(item, i, "freqs", 2 ** 31 - 1, 64),
                airtimeMs: intField(item, i, "airtimeMs", 100000),
            }
        case "mac-init": {
            const c = {
                op: item.op,
                region: regionField(item, i),
                subBand: intField(item, i, "subBand", 8),
                dlSettings: item.dlSettings === null || item.dlSettings === undefined ? null : intField(item, i, "dlSettings", 255),
                rxDelay: 0,
                cfList: hexField(item, i, "cfList", 16, { optional: true }),
            }
            if (c.dlSettings !== null) c.rxDelay = intField(item, i, "rxDelay", 255)
            return c
        }
        case "mac-commands": {
            const region = regionField(item, i)
            const steps = item.steps
            if (!Array.isArray(steps) || steps.length > 32)
                throw new LorawanInputError(`item ${i}: steps: expected an array of at most 32 steps`)
            steps.forEach((s, k) => {
                if (s === "up" || s === "link-check" || s === "device-time") return
                if (typeof s !== "string" || !/^down:([0-9a-fA-F]{2}){0,242}$/.test(s))
                    throw new LorawanInputError(`item ${i}: steps[${k}]: expected "up", "link-check", "device-time" or "down:<hex commands>"`)
            })
            return { op: item.op, region, state: macStateField(item, i, region), steps: steps.map(s => s.toLowerCase()) }
        }
        case "mac-downlinks": {
            const region = regionField(item, i)
            const steps = item.steps
            if (!Array.isArray(steps) || steps.length === 0 || steps.length > 16)
                throw new LorawanInputError(`item ${i}: steps: expected an array of 1 to 16 steps`)
            return {
                op: item.op,
                region,
                state: macStateField(item, i, region),
                nwkSKey: hexField(item, i, "nwkSKey", 16),
                appSKey: hexField(item, i, "appSKey", 16),
                devAddr: hexField(item, i, "devAddr", 4),
                last: item.last === null ? null : intField(item, i, "last", 0xffffffff),
                steps: steps.map((st, k) => {
                    if (st === "up") return st
                    if (typeof st === "object" && st !== null && st.fPort !== undefined) {
                        const u = {
                            fCnt: intField(st, `${i} steps[${k}]`, "fCnt", 0xffffffff),
                            fPort: intField(st, `${i} steps[${k}]`, "fPort", 223),
                            payload: boundedHex(st, `${i} steps[${k}]`, "payload"),
                            confirmed: boolField(st, `${i} steps[${k}]`, "confirmed", { optional: true }),
                        }
                        if (u.fPort === 0 || u.payload.length / 2 > 242) throw new LorawanInputError(`item ${i}: steps[${k}]: an application uplink on FPort 1..223 with at most 242 bytes`)
                        return u
                    }
                    if (typeof st !== "object" || st === null || !Number.isInteger(st.snr) || st.snr < -40 || st.snr > 40)
                        throw new LorawanInputError(`item ${i}: steps[${k}]: expected "up", {phy, snr} (snr an integer -40..40 dB) or {fCnt, fPort, payload, confirmed}`)
                    return { phy: boundedHex(st, `${i} steps[${k}]`, "phy"), snr: st.snr }
                }),
            }
        }
        case "channels": {
            const region = regionField(item, i)
            const sends = item.sends
            if (!Array.isArray(sends) || sends.length === 0 || sends.length > 32)
                throw new LorawanInputError(`item ${i}: sends: expected an array of 1 to 32 sends`)
            // time-off arrays (src/lorawan-timeoff.ts): one value per duty-cycle band, then the aggregate
            const slots = REGIONS[region].timeOffSlots
            const timeOff = (o, where, name) => {
                const v = intList(o, where, name, 2 ** 31 - 1, slots)
                if (v.length !== slots) throw new LorawanInputError(`item ${where}: ${name}: expected ${slots} entries for ${region}`)
                return v
            }
            const c = {
                op: item.op,
                region,
                state: macStateField(item, i, region),
                sends: sends.map((t, k) => {
                    const where = `${i} sends[${k}]`
                    const send = {
                        now: intField(t, where, "now", 2 ** 31 - 1),
                        dr: intField(t, where, "dr", 15),
                        rnd: intField(t, where, "rnd", 2 ** 31 - 1),
                        airtimeMs: intField(t, where, "airtimeMs", 100000),
                    }
                    if (t.stored !== undefined) send.stored = timeOff(t, where, "stored")
                    if (t.reserveAirMs !== undefined) send.reserveAirMs = intField(t, where, "reserveAirMs", 100000)
                    return send
                }),
            }
            if (item.resume !== undefined) c.resume = timeOff(item, i, "resume")
            return c
        }
        case "rx-windows": {
            const region = regionField(item, i)
            const c = {
                op: item.op,
                region,
                state: macStateField(item, i, region),
                channel: intField(item, i, "channel", region === "EU868" ? 15 : 71),
                dr: intField(item, i, "dr", region === "EU868" ? 6 : 4), // the LoRa uplink DRs
                join: boolField(item, i, "join"),
                errorMs: intField(item, i, "errorMs", 1000),
            }
            return c
        }
        case "mac-store": {
            const region = regionField(item, i)
            const c = { op: item.op, region, state: macStateField(item, i, region), subBand: intField(item, i, "subBand", 8) }
            if (item.record !== undefined) {
                if (typeof item.record !== "string" || item.record.length > 400 || !/^[0-9a-zA-Z]*$/.test(item.record))
                    throw new LorawanInputError(`item ${i}: record: expected a string of at most 400 letters and digits`)
                c.record = item.record
            }
            return c
        }
        case "fcnt-down": {
            const frames = item.frames
            if (!Array.isArray(frames) || frames.length === 0 || frames.length > 16)
                throw new LorawanInputError(`item ${i}: frames: expected an array of 1 to 16 frames`)
            return {
                op: item.op,
                nwkSKey: hexField(item, i, "nwkSKey", 16),
                appSKey: hexField(item, i, "appSKey", 16),
                devAddr: hexField(item, i, "devAddr", 4),
                last: item.last === null ? null : intField(item, i, "last", 0xffffffff),
                frames: frames.map((f, k) => boundedHex({ f }, `${i} frames[${k}]`, "f")),
            }
        }
        default:
            throw new LorawanInputError(
                `item ${i}: op: expected one of ${OPS.map(o => JSON.stringify(o)).join(", ")}, got ${JSON.stringify(item.op)}`,
            )
    }
}

export const OPS = [
    "join-request", "join-accept", "uplink", "downlink", "aes", "cmac", "session-keys", "frm-payload", "data-mic",
    "region", "mac-init", "mac-commands", "mac-downlinks", "channels", "rx-windows", "fcnt-down", "mac-store",
]

export const REGIONS = { EU868: { words: 1, channels: 16, timeOffSlots: 7 }, US915: { words: 5, channels: 0, timeOffSlots: 1 } }

function regionField(item, i) {
    if (!Object.hasOwn(REGIONS, item.region)) throw new LorawanInputError(`item ${i}: region: expected one of ${Object.keys(REGIONS).join(", ")}`)
    return item.region
}

function intList(item, i, name, max, maxLen) {
    const v = item[name]
    if (!Array.isArray(v) || v.length > maxLen) throw new LorawanInputError(`item ${i}: ${name}: expected an array of at most ${maxLen} integers`)
    v.forEach((x, k) => intField({ x }, `${i} ${name}[${k}]`, "x", max))
    return v
}

const MAC_STATE_INTS = {
    dr: 15, txPower: 15, nbTrans: 15, rx1DrOffset: 7, rx1Delay: 15, rx2Dr: 15, rx2Freq: 2 ** 31 - 1, maxDutyCycle: 15, battery: 255,
}

/** The `state` of a mac-commands item: the shape the VM returns from mac-init. */
function macStateField(item, i, region) {
    const s = item.state
    if (typeof s !== "object" || s === null) throw new LorawanInputError(`item ${i}: state: expected an object (as mac-init returns it)`)
    for (const [k, max] of Object.entries(MAC_STATE_INTS)) intField(s, `${i} state`, k, max)
    for (const k of ["snr", "linkMargin", "gwCnt", "gpsSeconds", "gpsFrac"])
        if (!Number.isInteger(s[k]) || s[k] < -128 || s[k] > 0xffffffff) throw new LorawanInputError(`item ${i} state: ${k}: expected an integer`)
    boolField(s, `${i} state`, "adr")
    const r = REGIONS[region]
    intList(s, `${i} state`, "chMask", 0xffff, r.words)
    if (s.chMask.length !== r.words) throw new LorawanInputError(`item ${i} state: chMask: expected ${r.words} words`)
    for (const k of ["freqs", "drMin", "drMax", "dlFreqs"]) {
        intList(s, `${i} state`, k, 2 ** 31 - 1, r.channels)
        if (s[k].length !== r.channels) throw new LorawanInputError(`item ${i} state: ${k}: expected ${r.channels} entries`)
    }
    if (s.adrAckCnt !== undefined) intField(s, `${i} state`, "adrAckCnt", 0xffffffff)
    const queued = hexField(s, `${i} state`, "queued")
    if (queued.length / 2 > 64) throw new LorawanInputError(`item ${i} state: queued: at most 64 bytes`)
    return { ...s, queued }
}

function boundedHex(item, i, name) {
    const v = hexField(item, i, name)
    if (v.length / 2 > MAX_PHY) throw new LorawanInputError(`item ${i}: ${name}: at most ${MAX_PHY} bytes`)
    return v
}

function phyField(item, i) {
    return boundedHex(item, i, "phyPayload")
}

function keyField(item, i, name) {
    const v = item[name]
    if (typeof v === "string" && v.length === 64) return hexField(item, i, name, 32)
    return hexField(item, i, name, 16)
}

function dirField(item, i) {
    if (item.dir !== "up" && item.dir !== "down") throw new LorawanInputError(`item ${i}: dir: expected "up" or "down"`)
    return item.dir
}

const hex6 = n => n.toString(16).padStart(6, "0")
const NULL_JOIN_ACCEPT = { ok: false, joinNonce: null, netId: null, devAddr: null, dlSettings: null, rxDelay: null, cfList: null, nwkSKey: null, appSKey: null }
const NULL_DOWNLINK = { ok: false, fPort: null, payload: null, fOpts: null, ack: null, fPending: null, adr: null, confirmed: null }

/** The OUT shape of one VM result line. */
function shapeResult(c, r) {
    if (c.op !== "join-accept" && c.op !== "downlink") return r
    if (c.op === "join-accept") {
        if (!r.ok) return { ...NULL_JOIN_ACCEPT }
        return { ok: true, joinNonce: hex6(r.joinNonce), netId: hex6(r.netId), devAddr: r.devAddr, dlSettings: r.dlSettings, rxDelay: r.rxDelay, cfList: r.cfList, nwkSKey: r.nwkSKey, appSKey: r.appSKey }
    }
    if (!r.ok) return { ...NULL_DOWNLINK }
    return { ok: true, fPort: r.fPort, payload: r.payload, fOpts: r.fOpts, ack: r.ack, fPending: r.fPending, adr: r.adr, confirmed: r.confirmed }
}

let image = null
function lorawanImage() {
    image ??= buildEntry("src/lorawan-vectors-main.ts").binary
    return image
}

/**
 * Runs `items` in the VM and returns one result per item. `detail: true` keeps the firmware's
 * refusal code (`error`) on results with ok: false (for tests; OUT.json has only the schema's fields).
 */
export async function runLorawanVectors(items, { timeoutMs, detail = false } = {}) {
    if (!Array.isArray(items)) throw new LorawanInputError("input: expected a JSON array of items")
    const cases = items.map(checkItem)
    if (cases.length === 0) return []
    const lines = cases.map(c => JSON.stringify(c))
    const raw = []
    let sent = 0
    let failure = null
    const sockets = new Set()
    const server = net.createServer(sock => {
        sockets.add(sock)
        let buf = ""
        sock.setEncoding("utf8")
        sock.on("error", () => {})
        sock.on("data", d => {
            buf += d
            let nl
            while ((nl = buf.indexOf("\n")) >= 0) {
                const line = buf.slice(0, nl)
                buf = buf.slice(nl + 1)
                if (line !== "more") {
                    try {
                        raw.push(JSON.parse(line))
                    } catch {
                        failure ??= new Error(`VM sent an unreadable result line: ${line.slice(0, 80)}`)
                    }
                    continue
                }
                if (sent >= lines.length) sock.write("end\n")
                else {
                    const batch = lines.slice(sent, sent + BATCH)
                    sent += batch.length
                    sock.write(batch.join("\n") + "\n.\n")
                }
            }
        })
    })
    await new Promise((res, rej) => server.listen(0, "127.0.0.1", res).on("error", rej))
    const port = server.address().port
    try {
        const deviceId = port.toString(16).padStart(4, "0") + "00000000cafe"
        await runToMarker(lorawanImage(), { deviceId, timeoutMs: timeoutMs ?? 30000 + 50 * cases.length })
    } finally {
        // the VM's connection would keep the process alive
        for (const s of sockets) s.destroy()
        server.close()
    }
    if (failure) throw failure
    if (raw.length !== cases.length) throw new Error(`VM returned ${raw.length} result(s) for ${cases.length} item(s)`)
    return raw.map((r, i) => {
        if (r.refused !== undefined) throw new LorawanInputError(`item ${i}: the firmware refused it: ${r.refused}`)
        const out = shapeResult(cases[i], r)
        if (detail && r.ok === false) out.error = r.error
        return out
    })
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const [inPath, outPath] = process.argv.slice(2)
    if (!inPath || !outPath) {
        console.error("usage: npm run -w firmware lorawan-vectors -- IN.json OUT.json")
        process.exit(2)
    }
    // npm runs workspace scripts in firmware/; resolve paths against where the user ran npm
    const base = process.env.INIT_CWD ?? process.cwd()
    let items
    try {
        items = JSON.parse(readFileSync(resolve(base, inPath), "utf8"))
    } catch (e) {
        console.error(`${inPath}: ${e.code === "ENOENT" ? "no such file" : e.message}`)
        process.exit(2)
    }
    try {
        const out = await runLorawanVectors(items)
        // written whole or not at all: a temporary file renamed over OUT
        const target = resolve(base, outPath)
        const tmp = `${target}.${process.pid}.tmp`
        writeFileSync(tmp, JSON.stringify(out, null, 2) + "\n")
        renameSync(tmp, target)
        console.error(`${out.length} item(s) run in the DeviceScript VM -> ${outPath}`)
    } catch (e) {
        console.error(String(e?.message ?? e))
        process.exit(e instanceof LorawanInputError ? 2 : 4)
    }
}
