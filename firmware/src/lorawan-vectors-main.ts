// Entry point of `npm run -w firmware lorawan-vectors`: runs the firmware's LoRaWAN frame coding
// (and the AES-CCM and HKDF of record version 2: ops "ccm" and "hkdf")
// on cases served by scripts/lorawan-vectors.mjs over TCP on loopback (the VM cannot read files,
// and compiling thousands of cases into the image would be slow and large).
// The port is in the device id (digits 0-3, hex). Exchange, one line each:
//   VM -> host  "more"                 host -> VM  up to 8 case lines (JSON), then "."  (or "end")
//   VM -> host  one result line (JSON) per case, in order, then "more" again
// Hex in and out is in display order (EUIs and DevAddr big-endian), as this module's API takes it.
import * as ds from "@devicescript/core"
import { deviceIdParam } from "./device-id-params"
import { connect } from "@devicescript/net"
import { aesEncryptBlock, aesExpandKey } from "./aes"
import { aesCmac, cmacKey } from "./cmac"
import { aesCcmSeal } from "./ccm"
import { hkdfSha256 } from "./hkdf"
import { LorawanSession, Uplink, cryptFrmPayload, dataMic, deriveSessionKeys10, encodeJoinRequest, encodeUplink, openDownlink, openJoinAccept } from "./lorawan-frames"
import { Region, bandOf, downlinkFreqOk, maxPayloadOf, regionByName, rx1Dr, timeOffMs, uplinkFreqOk } from "./lorawan-region"
import {
    MacState,
    applyCfList,
    applyJoinSettings,
    channelFreq,
    initMacState,
    processDownlinkCommands,
    requestDeviceTime,
    requestLinkCheck,
    rx1Freq,
    rxWindows,
    uplinkCommands,
    uplinkSent,
} from "./lorawan-mac-commands"
import { DownlinkCounter, acceptDownlink } from "./lorawan-counters"
import { ChannelPicker, handleDownlink, nextUplink, uplinkDone } from "./lorawan-mac"
import { resumeTimeOff, timeOffCovered, timeOffSlots, timeOffToStore } from "./lorawan-timeoff"
import { encodeMacSettings, restoreMacSettings } from "./lorawan-macstore"

function hexOf(b: Buffer): string {
    return b === null ? "null" : `"${b.toString("hex")}"`
}

function bytes(hex: string): Buffer {
    return hex === null || hex === undefined ? null : Buffer.from(hex, "hex")
}

function flag(v: any): boolean {
    return v === true
}

function dir(c: any): number {
    return c.dir === "down" ? 1 : 0
}

function nums(a: number[]): string {
    let s = "["
    for (let i = 0; i < a.length; i++) s += (i > 0 ? "," : "") + a[i]
    return s + "]"
}

function numArray(v: any): number[] {
    const out: number[] = []
    for (let i = 0; i < v.length; i++) out.push(v[i])
    return out
}

function macStateJson(st: MacState): string {
    return (
        `{"dr":${st.dr},"txPower":${st.txPower},"nbTrans":${st.nbTrans},"adr":${st.adr},"chMask":${nums(st.chMask)},` +
        `"freqs":${nums(st.freqs)},"drMin":${nums(st.drMin)},"drMax":${nums(st.drMax)},"dlFreqs":${nums(st.dlFreqs)},` +
        `"rx1DrOffset":${st.rx1DrOffset},"rx1Delay":${st.rx1Delay},"rx2Dr":${st.rx2Dr},"rx2Freq":${st.rx2Freq},` +
        `"maxDutyCycle":${st.maxDutyCycle},"battery":${st.battery},"snr":${st.snr},"linkMargin":${st.linkMargin},` +
        `"gwCnt":${st.gwCnt},"gpsSeconds":${st.gpsSeconds},"gpsFrac":${st.gpsFrac},"queued":${hexOf(st.queued)},` +
        `"ackDown":${st.ackDown},"fresh":${st.fresh},"adrAckCnt":${st.adrAckCnt}}`
    )
}

function macStateOf(v: any): MacState {
    const st = new MacState()
    st.dr = v.dr
    st.txPower = v.txPower
    st.nbTrans = v.nbTrans
    st.adr = v.adr === true
    st.chMask = numArray(v.chMask)
    st.freqs = numArray(v.freqs)
    st.drMin = numArray(v.drMin)
    st.drMax = numArray(v.drMax)
    st.dlFreqs = numArray(v.dlFreqs)
    st.rx1DrOffset = v.rx1DrOffset
    st.rx1Delay = v.rx1Delay
    st.rx2Dr = v.rx2Dr
    st.rx2Freq = v.rx2Freq
    st.maxDutyCycle = v.maxDutyCycle
    st.battery = v.battery
    st.snr = v.snr
    st.linkMargin = v.linkMargin
    st.gwCnt = v.gwCnt
    st.gpsSeconds = v.gpsSeconds
    st.gpsFrac = v.gpsFrac
    st.queued = bytes(v.queued)
    st.ackDown = v.ackDown === true
    st.fresh = v.fresh === true
    st.adrAckCnt = typeof v.adrAckCnt === "number" ? v.adrAckCnt : 0
    return st
}

function runMacCase(c: any, op: string): string {
    const r: Region = regionByName(c.region)
    if (r === null) throw new TypeError("unknown region")
    if (op === "mac-init") {
        const st = initMacState(r, c.subBand)
        if (c.dlSettings !== null) applyJoinSettings(st, c.dlSettings, c.rxDelay)
        const cfOk = c.cfList === null ? false : applyCfList(r, st, bytes(c.cfList))
        return `{"cfListApplied":${cfOk},"state":${macStateJson(st)}}`
    }
    if (op === "mac-downlinks") {
        const st = macStateOf(c.state)
        const session = new LorawanSession(bytes(c.devAddr), bytes(c.nwkSKey), bytes(c.appSKey))
        const dc = new DownlinkCounter()
        dc.last = c.last === null ? -1 : c.last
        let out = "["
        for (let i = 0; i < c.steps.length; i++) {
            const step = c.steps[i]
            let res = ""
            if (step === "up") {
                res = `{"up":${hexOf(uplinkCommands(st))},"ack":${st.ackDown}}`
                uplinkSent(st)
            } else if (step.fPort !== undefined) {
                const o = nextUplink(r, session, st, step.fCnt, step.fPort, bytes(step.payload), step.confirmed === true)
                uplinkDone(r, st, o)
                res = `{"phy":${hexOf(o.phy)},"carriedApp":${o.carriedApp},"carriedMac":${o.carriedMac}}`
            } else {
                const d = handleDownlink(r, session, dc, st, bytes(step.phy), step.snr)
                res = d.ok
                    ? `{"ok":true,"fCnt":${dc.last},"fPort":${d.fPort},"payload":${hexOf(d.payload)}}`
                    : `{"ok":false,"error":"${d.error}"}`
            }
            out += (i > 0 ? "," : "") + res
        }
        return `{"results":${out}],"last":${dc.last < 0 ? "null" : dc.last},"state":${macStateJson(st)}}`
    }
    if (op === "channels") {
        const st = macStateOf(c.state)
        const cp = new ChannelPicker(r)
        // a boot that found this time-off stored (src/lorawan-timeoff.ts)
        if (c.resume !== undefined) resumeTimeOff(cp, numArray(c.resume), 0)
        let out = "["
        for (let i = 0; i < c.sends.length; i++) {
            const t = c.sends[i]
            const ch = cp.pick(r, st, t.dr, t.now, t.rnd)
            // whether the stored time-off covers this send, before it goes
            const cov = ch >= 0 && t.stored !== undefined ? `,"covered":${timeOffCovered(r, st, numArray(t.stored), ch, t.airtimeMs)}` : ""
            if (ch >= 0) cp.record(r, st, ch, t.now, t.airtimeMs)
            // what a settings write right after it would store
            const store = t.reserveAirMs !== undefined ? `,"timeOff":${nums(timeOffToStore(r, st, cp, t.now, t.reserveAirMs))}` : ""
            out += (i > 0 ? "," : "") + `{"channel":${ch},"freqHz":${ch < 0 ? 0 : channelFreq(r, st, ch)},"waitMs":${cp.waitMs}${cov}${store}}`
        }
        return `{"slots":${timeOffSlots(r)},"sends":${out}]}`
    }
    if (op === "rx-windows") {
        const ws = rxWindows(r, macStateOf(c.state), c.channel, c.dr, c.join, c.errorMs)
        let out = "["
        for (let i = 0; i < ws.length; i++) {
            const w = ws[i]
            out += (i > 0 ? "," : "") + `{"openMs":${w.openMs},"windowMs":${w.windowMs},"freqHz":${w.freqHz},"dr":${w.dr},"sf":${w.sf},"bwHz":${w.bwHz}}`
        }
        return `{"windows":${out}]}`
    }
    if (op === "mac-store") {
        // the ABP record of a state, and a state restored from a record (this one, or `record`)
        const rec = encodeMacSettings(r, macStateOf(c.state))
        const st = initMacState(r, c.subBand)
        const ok = restoreMacSettings(r, st, typeof c.record === "string" ? c.record : rec)
        return `{"record":"${rec}","restored":${ok ? macStateJson(st) : "null"}}`
    }
    if (op === "mac-commands") {
        const st = macStateOf(c.state)
        let ups = "["
        let parsed = "["
        for (let i = 0; i < c.steps.length; i++) {
            const step: string = c.steps[i]
            if (step === "up") {
                ups += (ups.length > 1 ? "," : "") + hexOf(uplinkCommands(st))
                uplinkSent(st)
            } else if (step === "link-check") requestLinkCheck(st)
            else if (step === "device-time") requestDeviceTime(st)
            else {
                const n = processDownlinkCommands(r, st, bytes(step.slice(5)))
                parsed += (parsed.length > 1 ? "," : "") + n
            }
        }
        return `{"uplinks":${ups}],"parsed":${parsed}],"state":${macStateJson(st)}}`
    }
    // op === "region": the region's derived values on its default channels (sub-band 0)
    const st = initMacState(r, 0)
    const chs: number[] = []
    const rx1s: number[] = []
    for (let ch = 0; ch < r.nbChannels; ch++) {
        chs.push(channelFreq(r, st, ch))
        rx1s.push(channelFreq(r, st, ch) === 0 ? 0 : rx1Freq(r, st, ch))
    }
    const rx1: number[] = []
    for (let dr = 0; dr <= r.maxUplinkDr; dr++) for (let off = 0; off <= r.maxRx1DrOffset; off++) rx1.push(rx1Dr(r, dr, off))
    const payload: number[] = []
    for (let dr = 0; dr < 16; dr++) payload.push(maxPayloadOf(r, dr))
    const band: number[] = []
    const up: number[] = []
    const down: number[] = []
    const off: number[] = []
    for (let i = 0; i < c.freqs.length; i++) {
        const f: number = c.freqs[i]
        band.push(bandOf(r, f))
        up.push(uplinkFreqOk(r, f) ? 1 : 0)
        down.push(downlinkFreqOk(r, f) ? 1 : 0)
        off.push(timeOffMs(r, f, c.airtimeMs))
    }
    return (
        `{"channels":${nums(chs)},"rx1Freqs":${nums(rx1s)},"rx1Dr":${nums(rx1)},"maxPayload":${nums(payload)},` +
        `"rx2":[${r.rx2Freq},${r.rx2Dr}],"dwellMs":${r.dwellMs},"band":${nums(band)},"uplinkOk":${nums(up)},` +
        `"downlinkOk":${nums(down)},"timeOffMs":${nums(off)}}`
    )
}

function runFCntDown(c: any): string {
    const session = new LorawanSession(bytes(c.devAddr), bytes(c.nwkSKey), bytes(c.appSKey))
    const dc = new DownlinkCounter()
    dc.last = c.last === null ? -1 : c.last
    let out = "["
    for (let i = 0; i < c.frames.length; i++) {
        const d = acceptDownlink(session, dc, bytes(c.frames[i]))
        out += (i > 0 ? "," : "") + (d.ok ? `{"ok":true,"fCnt":${dc.last},"fOpts":${hexOf(d.fOpts)},"fPort":${d.fPort}}` : `{"ok":false,"error":"${d.error}"}`)
    }
    return `{"results":${out}],"last":${dc.last < 0 ? "null" : dc.last}}`
}

/** The ops of record version 2's crypto, which yield (AES-CCM, HKDF over SHA-256). */
async function runAsyncCase(c: any): Promise<string> {
    if (c.op === "ccm") return `{"sealed":${hexOf(await aesCcmSeal(aesExpandKey(bytes(c.key)), bytes(c.nonce), bytes(c.aad), bytes(c.plaintext)))}}`
    return `{"okm":${hexOf(await hkdfSha256(bytes(c.ikm), bytes(c.salt), bytes(c.info), c.length))}}`
}

function runCase(c: any): string {
    const op: string = c.op
    if (op === "mac-init" || op === "mac-commands" || op === "region" || op === "rx-windows" || op === "mac-downlinks" || op === "channels" || op === "mac-store") return runMacCase(c, op)
    if (op === "fcnt-down") return runFCntDown(c)
    if (op === "aes") {
        const out = Buffer.alloc(16)
        aesEncryptBlock(aesExpandKey(bytes(c.key)), bytes(c.plaintext), 0, out, 0)
        return `{"ciphertext":${hexOf(out)}}`
    }
    if (op === "cmac") return `{"mac":${hexOf(aesCmac(cmacKey(bytes(c.key)), bytes(c.message)))}}`
    if (op === "session-keys") {
        const keys = deriveSessionKeys10(aesExpandKey(bytes(c.appKey)), c.joinNonce, c.netId, c.devNonce)
        return `{"nwkSKey":${hexOf(keys[0])},"appSKey":${hexOf(keys[1])}}`
    }
    if (op === "frm-payload") {
        const data = bytes(c.payload)
        cryptFrmPayload(aesExpandKey(bytes(c.key)), dir(c), bytes(c.devAddr), c.fCnt, data, 0, data.length)
        return `{"payload":${hexOf(data)}}`
    }
    if (op === "data-mic") {
        const msg = bytes(c.msg)
        const mic = Buffer.alloc(4)
        mic.setAt(0, "i32", dataMic(cmacKey(bytes(c.nwkSKey)), dir(c), bytes(c.devAddr), c.fCnt, msg, msg.length))
        return `{"mic":${hexOf(mic)}}`
    }
    if (op === "join-request") {
        const phy = encodeJoinRequest(cmacKey(bytes(c.appKey)), bytes(c.joinEui), bytes(c.devEui), c.devNonce)
        return `{"phyPayload":${hexOf(phy)}}`
    }
    if (op === "join-accept") {
        const appKey = cmacKey(bytes(c.appKey))
        const ja = openJoinAccept(appKey, bytes(c.phyPayload))
        if (ja.ok === false) return `{"ok":false,"error":"${ja.error}"}`
        const keys = deriveSessionKeys10(appKey.aes, ja.joinNonce, ja.netId, c.devNonce)
        return (
            `{"ok":true,"joinNonce":${ja.joinNonce},"netId":${ja.netId},"devAddr":${hexOf(ja.devAddr)},` +
            `"dlSettings":${ja.dlSettings},"rxDelay":${ja.rxDelay},"cfList":${hexOf(ja.cfList)},` +
            `"nwkSKey":${hexOf(keys[0])},"appSKey":${hexOf(keys[1])}}`
        )
    }
    const session = new LorawanSession(bytes(c.devAddr), bytes(c.nwkSKey), bytes(c.appSKey))
    if (op === "uplink") {
        const up = new Uplink(c.fCnt, c.fPort === null ? -1 : c.fPort, bytes(c.payload))
        up.confirmed = flag(c.confirmed)
        up.adr = flag(c.adr)
        up.adrAckReq = flag(c.adrAckReq)
        up.ack = flag(c.ack)
        up.fOpts = bytes(c.fOpts)
        return `{"phyPayload":${hexOf(encodeUplink(session, up))}}`
    }
    if (op === "downlink") {
        const d = openDownlink(session, c.fCntDown, bytes(c.phyPayload))
        if (d.ok === false) return `{"ok":false,"error":"${d.error}"}`
        return (
            `{"ok":true,"fPort":${d.fPort < 0 ? "null" : d.fPort},"payload":${hexOf(d.payload)},"fOpts":${hexOf(d.fOpts)},` +
            `"ack":${d.ack},"fPending":${d.fPending},"adr":${d.adr},"confirmed":${d.confirmed}}`
        )
    }
    throw new TypeError("unknown op")
}

const port = deviceIdParam(0, 4)
const sock = await connect({ host: "127.0.0.1", port: port, proto: "tcp" })
let done = 0
while (true) {
    await sock.send(Buffer.from("more\n"))
    let out = ""
    let end = false
    while (true) {
        const line = await sock.readLine()
        if (line === "." || line === "end" || line === undefined || line === null) {
            end = line !== "."
            break
        }
        let res = ""
        try {
            const c = JSON.parse(line)
            res = c.op === "ccm" || c.op === "hkdf" ? await runAsyncCase(c) : runCase(c)
        } catch (e) {
            res = `{"refused":${JSON.stringify("" + e)}}`
        }
        out += res + "\n"
        done++
        await ds.sleep(0)
    }
    if (out.length > 0) await sock.send(Buffer.from(out))
    if (end) break
}
await sock.close()
console.log(`#cases ${done}`)
console.log("#done")
