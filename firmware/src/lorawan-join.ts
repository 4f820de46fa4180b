// OTAA join of a class A device (LoRaWAN 1.0.4 section 6.2): a DevNonce stored before use, the
// join-request on an open channel, RX1 at JOIN_ACCEPT_DELAY1 and RX2 one second later (inverted
// IQ), the join-accept opened and its JoinNonce checked and stored, then the 1.0.x session keys
// and the join-accept's DLSettings, RxDelay and CFList. Each join-request books its 1.0.4 back-off
// (src/lorawan-backoff.ts) in the same settings write as its DevNonce; waiting it out and retrying
// are the caller's (src/lorawan-link.ts). Every transmission is covered by the duty-cycle time-off
// stored in settings before it starts (src/lorawan-timeoff.ts), and an ABP session stores each
// accepted FCnt down, with the MAC settings (src/lorawan-macstore.ts), before anything it asked for goes up.
import * as ds from "@devicescript/core"
import { LoraParams, LoraRadio, RxPacket, loraAirtimeMs } from "./lora"
import { CmacKey } from "./cmac"
import { Downlink, JOIN_REQUEST_BYTES, LorawanSession, deriveSessionKeys10, encodeJoinRequest, openJoinAccept } from "./lorawan-frames"
import { DownlinkCounter } from "./lorawan-counters"
import { LorawanCounters } from "./lorawan-state"
import { MacState, RxWindow, applyCfList, applyJoinSettings, channelFreq, initMacState, rxWindows } from "./lorawan-mac-commands"
import { ChannelPicker, handleDownlink, nextUplink, uplinkDone } from "./lorawan-mac"
import { Region, maxPayloadOf } from "./lorawan-region"
import { bookJoinRequest } from "./lorawan-backoff"
import { timeOffCovered, timeOffSlots, timeOffToStore } from "./lorawan-timeoff"
import { encodeMacSettings } from "./lorawan-macstore"

/** The radio settings of `dr` on `freqHz` (LoRaWAN: sync word 0x34, 8-symbol preamble, CR 4/5). */
export function drParams(r: Region, dr: number, freqHz: number, txPowerIndex: number): LoraParams {
    return {
        freqHz: freqHz,
        sf: r.sf[dr],
        bwHz: r.bwKHz[dr] * 1000,
        cr: 1,
        txPowerDbm: r.maxEirpDbm - 2 * txPowerIndex,
        preamble: 8,
        syncWord: 0x34,
    }
}

export class OtaaKeys {
    appKey: CmacKey
    /** display order */
    joinEui: Buffer
    devEui: Buffer
    constructor(appKey: CmacKey, joinEui: Buffer, devEui: Buffer) {
        this.appKey = appKey
        this.joinEui = joinEui
        this.devEui = devEui
    }
}

/** What a device needs across joins and sessions. */
export class LorawanDevice {
    region: Region
    radio: LoraRadio
    counters: LorawanCounters
    picker: ChannelPicker
    st: MacState
    session: LorawanSession
    down: DownlinkCounter
    /** worst timing error of the receive windows (ms) */
    errorMs: number
    /** the last join's DevNonce */
    devNonce: number
    /** US915: the sub-band to join on (1..8), 0 for all channels */
    subBand: number
    /** set when a genuine downlink came more than MAX_FCNT_GAP ahead: the session is out of step */
    sessionLost: boolean
    /** when the last transmission ended (ms), for DeviceTimeAns */
    txEnd: number
    /** ABP: the session's tag under which each accepted FCnt down is stored; "" (OTAA): not stored */
    downTag: string
    constructor(region: Region, radio: LoraRadio, counters: LorawanCounters, subBand: number, errorMs: number) {
        this.subBand = subBand
        this.region = region
        this.radio = radio
        this.counters = counters
        counters.fitTimeOff(timeOffSlots(region))
        this.picker = new ChannelPicker(region)
        this.st = initMacState(region, subBand)
        this.session = null
        this.down = null
        this.errorMs = errorMs
        this.devNonce = -1
        this.sessionLost = false
        this.txEnd = 0
        this.downTag = ""
    }
}

/** Airtime of the largest uplink at `dr`: N bytes of FRMPayload and FOpts, plus MHDR, FHDR, FPort and MIC (13). */
export function maxFrameAirtimeMs(r: Region, dr: number): number {
    return loraAirtimeMs(maxPayloadOf(r, dr) + 13, drParams(r, dr, 0, 0))
}

/** Makes the next settings write of the counters store the time-off owed now, reserved for the largest frame at `dr`. */
function reserveTimeOff(dev: LorawanDevice, dr: number, atLeastAirMs: number): void {
    let air = maxFrameAirtimeMs(dev.region, dr)
    if (atLeastAirMs > air) air = atLeastAirMs
    dev.counters.timeOffNext = timeOffToStore(dev.region, dev.st, dev.picker, ds.millis(), air)
}

/**
 * Before `phy` goes on channel `ch` at `dr`: a power cut once it starts must find its time-off in
 * settings. Rarely a write of its own: the counters' writes reserve ahead for the largest frame at the DR.
 */
async function coverTimeOff(dev: LorawanDevice, phy: Buffer, ch: number, dr: number): Promise<void> {
    const r = dev.region
    const air = loraAirtimeMs(phy.length, drParams(r, dr, channelFreq(r, dev.st, ch), 0))
    if (timeOffCovered(r, dev.st, dev.counters.timeOffMs, ch, air)) return
    reserveTimeOff(dev, dr, air)
    await dev.counters.storeTimeOff()
}

/** Sends `phy` on channel `ch` at `dr`, books its airtime against the duty cycle, and returns when the transmission ended. */
async function transmitOn(dev: LorawanDevice, phy: Buffer, ch: number, dr: number): Promise<number> {
    const r = dev.region
    const st = dev.st
    const p = drParams(r, dr, channelFreq(r, st, ch), st.txPower)
    const airtime = loraAirtimeMs(phy.length, p)
    // the channel's frequency and the DR's modulation (and LoRaWAN's sync word) for this uplink
    await dev.radio.configure(p)
    const start = ds.millis()
    await dev.radio.transmit(phy, 2 * airtime + 200)
    const end = ds.millis()
    dev.picker.record(r, st, ch, start, airtime)
    dev.txEnd = end
    return end
}

/** Waits for window `w` of an uplink that ended at `end`, then listens in it (inverted IQ); null when nothing came. */
async function listenIn(dev: LorawanDevice, w: RxWindow, end: number): Promise<RxPacket> {
    const wait = end + w.openMs - ds.millis()
    if (wait > 0) await ds.sleep(wait)
    return await dev.radio.receive(drParams(dev.region, w.dr, w.freqHz, dev.st.txPower), true, w.windowMs)
}

/**
 * One join attempt at `dr` from the region's default MAC state (`rnd`: a random draw for the channel). Returns "" when joined, else
 * why not: "no-channel" (none open: see dev.picker.waitMs), "no-join-accept", "join-nonce" (a
 * replayed join-accept, ignored).
 */
export async function otaaJoin(dev: LorawanDevice, keys: OtaaKeys, dr: number, rnd: number): Promise<string> {
    const r = dev.region
    // a join starts from the region's defaults (default channels, RX2, RX1 offset 0): the
    // session being replaced configured them for itself
    const st = initMacState(r, dev.subBand)
    dev.st = st
    const ch = dev.picker.pick(r, st, dr, ds.millis(), rnd)
    if (ch < 0) return "no-channel"
    bookJoinRequest(dev.counters, loraAirtimeMs(JOIN_REQUEST_BYTES, drParams(r, dr, channelFreq(r, st, ch), 0)))
    reserveTimeOff(dev, dr, 0)
    const devNonce = await dev.counters.takeDevNonce()
    dev.devNonce = devNonce
    const phy = encodeJoinRequest(keys.appKey, keys.joinEui, keys.devEui, devNonce)
    await coverTimeOff(dev, phy, ch, dr)
    const end = await transmitOn(dev, phy, ch, dr)
    const ws = rxWindows(r, st, ch, dr, true, dev.errorMs)
    for (let i = 0; i < ws.length; i++) {
        const pkt = await listenIn(dev, ws[i], end)
        if (pkt === null) continue
        const ja = openJoinAccept(keys.appKey, pkt.payload)
        if (ja.ok === false) continue
        // data starts at the join's DR (src/lorawan-link.ts)
        reserveTimeOff(dev, dr, 0)
        if ((await dev.counters.acceptJoin(ja.joinNonce)) === false) return "join-nonce"
        const sk = deriveSessionKeys10(keys.appKey.aes, ja.joinNonce, ja.netId, devNonce)
        dev.session = new LorawanSession(ja.devAddr, sk[0], sk[1])
        dev.down = new DownlinkCounter()
        dev.down.fromZero = true // NFCntDown starts at 0 with the session
        dev.sessionLost = false
        applyJoinSettings(st, ja.dlSettings, ja.rxDelay)
        if (ja.cfList !== null) applyCfList(r, st, ja.cfList)
        st.snr = Math.round(pkt.snrDb)
        return ""
    }
    return "no-join-accept"
}

/** What one class A uplink cycle gave. */
export class SendResult {
    /** "" when sent; "no-channel" (none open: see dev.picker.waitMs) */
    error: string
    /** the accepted downlink heard in RX1 or RX2, or null */
    downlink: Downlink
    /** the application payload went (false: the MAC commands took the frame, send it again) */
    carriedApp: boolean
    constructor(error: string) {
        this.error = error
        this.downlink = null
        this.carriedApp = false
    }
}

/**
 * One class A cycle: an uplink of `payload` on `fPort` at the state's DR on an open channel,
 * with the next stored FCnt up and the queued MAC commands, then RX1 after RxDelay and RX2 one
 * second later (inverted IQ); the first accepted downlink ends the cycle (RX2 is not opened after
 * a downlink in RX1). An unconfirmed uplink goes NbTrans times (LinkADRReq), the same frame each
 * time on a channel drawn again (waiting for the duty cycle when needed), until a downlink arrives.
 */
export async function classACycle(dev: LorawanDevice, fPort: number, payload: Buffer, confirmed: boolean, rnd: number): Promise<SendResult> {
    const r = dev.region
    const st = dev.st
    const dr = st.dr
    let ch = dev.picker.pick(r, st, dr, ds.millis(), rnd)
    if (ch < 0) return new SendResult("no-channel")
    reserveTimeOff(dev, dr, 0)
    const fCnt = await dev.counters.takeFCntUp()
    const out = nextUplink(r, dev.session, st, fCnt, fPort, payload, confirmed)
    const res = new SendResult("")
    res.carriedApp = out.carriedApp
    const times = confirmed ? 1 : st.nbTrans
    for (let t = 0; t < times; t++) {
        if (t > 0) {
            ch = dev.picker.pick(r, st, dr, ds.millis(), rnd + t)
            while (ch < 0) {
                if (dev.picker.waitMs < 0) return res // no channel takes this DR any more
                console.log(`sceau-lorawan wait ${dev.picker.waitMs}`)
                await ds.sleep(dev.picker.waitMs)
                ch = dev.picker.pick(r, st, dr, ds.millis(), rnd + t)
            }
        }
        await coverTimeOff(dev, out.phy, ch, dr)
        const end = await transmitOn(dev, out.phy, ch, dr)
        // the windows of this uplink, fixed before anything changes the state
        const ws = rxWindows(r, st, ch, dr, false, dev.errorMs)
        // the frame is on air: what it carried is done with now, before a downlink in RX1 or RX2
        // queues new answers (done after the windows, it dropped the answers to that downlink)
        if (t === 0) uplinkDone(r, st, out)
        const d = await listenAfter(dev, ws, end)
        if (d !== null) {
            res.downlink = d
            return res
        }
    }
    return res
}

/** RX1 and RX2 (`ws`) of an uplink that ended at `end`, stopping at an accepted downlink. */
async function listenAfter(dev: LorawanDevice, ws: RxWindow[], end: number): Promise<Downlink> {
    for (let i = 0; i < ws.length; i++) {
        const pkt = await listenIn(dev, ws[i], end)
        if (pkt === null) continue
        const d = handleDownlink(dev.region, dev.session, dev.down, dev.st, pkt.payload, pkt.snrDb)
        if (d.ok) {
            // ABP keeps its session across reboots: the counter is stored before any answer goes up,
            // and with it (the same write) the MAC settings the downlink may have changed
            if (dev.downTag !== "") await dev.counters.storeFCntDown(dev.downTag, dev.down.last, encodeMacSettings(dev.region, dev.st))
            return d
        }
        if (d.error === "fcnt-gap") dev.sessionLost = true
    }
    return null
}
