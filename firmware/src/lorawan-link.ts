// The firmware's LoRaWAN link (LoRaWAN L2 1.0.4 class A, RP002-1.0.x): sceau datagrams (sealed
// frames, or their fragments) go unchanged as the FRMPayload of unconfirmed uplinks on
// SCEAU_FPORT; application downlinks on CONTROL_FPORT reach src/app-control.ts.
//
// - Activation: OTAA (join on first send; the 1.0.4 join back-off of src/lorawan-backoff.ts,
//   persisted, so a boot waits the silence owed by the last join-request) or ABP (a session from
//   settings; FCnt up reserved ahead in settings like OTAA's, the last accepted FCnt down stored
//   so an old downlink replayed after a reboot is refused, and with it the MAC settings the
//   network changed, restored at boot: src/lorawan-macstore.ts).
// - Duty cycle: a boot waits the data-uplink time-off stored before the last transmissions
//   (src/lorawan-timeoff.ts), per band, as it waits the join back-off.
// - Datagram size: `mtu` is the smallest N of the region's uplink DRs (the firmware batches so a
//   frame fits 16 fragments of it); `sendMtu()` is N at the current DR, which cuts the fragments.
//   The firmware awaits `ready()` (which joins when there is no session) before it takes a counter
//   and seals, so the current DR is the one the data uplink goes at: after a join, the join's DR.
//   A datagram above N at the moment of sending (the DR went down between two fragments) is
//   refused: the firmware keeps the readings and seals them again at the new size.
// - Session loss: after LORAWAN_REJOIN_AFTER (N) uplinks without any downlink, LinkCheckReq being
//   asked from N/2 on (ADRACKReq from ADR_ACK_LIMIT on), or a genuine downlink more than
//   MAX_FCNT_GAP ahead, an OTAA device drops its session and joins again on the next send.
// - Time: DeviceTimeReq rides on the first uplink and every TIME_REQUEST_EVERY-th until answered
//   (then every TIME_RESYNC_EVERY-th); DeviceTimeAns dates the end of that uplink, which gives
//   records their `time`.
// - Heavy work: `ready` and `send` return only after the last receive window of their last
//   transmission (src/lorawan-join.ts), and the firmware signs only after `ready` and between
//   sends, so no signature runs between a transmission and its last window.
// Console: "sceau-lorawan <event> ..." lines (joined, join-failed, session-lost, mac-restored, no-credentials).
import * as ds from "@devicescript/core"
import { Link } from "./links"
import { LoraRadio } from "./lora"
import { LorawanCounters } from "./lorawan-state"
import { LorawanCredentials, loadLorawanCredentials } from "./lorawan-credentials"
import { DownlinkCounter } from "./lorawan-counters"
import { LorawanDevice, SendResult, classACycle, otaaJoin } from "./lorawan-join"
import { requestDeviceTime, requestLinkCheck } from "./lorawan-mac-commands"
import { resumeTimeOff } from "./lorawan-timeoff"
import { restoreMacSettings } from "./lorawan-macstore"
import { Region, loraDr, maxPayloadOf, regionByName } from "./lorawan-region"
import {
    LORA_MAX_WAIT_MS,
    LORAWAN_ABP_DR,
    LORAWAN_ABP_RX1_DELAY_S,
    LORAWAN_JOIN_DR,
    LORAWAN_REGION,
    LORAWAN_REJOIN_AFTER,
    LORAWAN_RX2_DR,
    LORAWAN_RX_ERROR_MS,
    LORAWAN_SUB_BAND,
} from "./config"
import { AppControl, applyControlDownlink } from "./app-control"
import { setDefaultRx2Dr } from "./lorawan-region"

/** The FPort of sceau datagrams (uplink), as the gateway and the payload formatter expect. */
export const SCEAU_FPORT = 1
/** The FPort of control downlinks (src/app-control.ts). */
export const CONTROL_FPORT = 2
/** Unix time of the GPS epoch (1980-01-06T00:00:00Z), and GPS - UTC (leap seconds since 2017-01-01). */
export const GPS_EPOCH_UNIX_S = 315964800
export const GPS_LEAP_S = 18
export const TIME_REQUEST_EVERY = 16
export const TIME_RESYNC_EVERY = 4096

export class LorawanOptions {
    joinDr: number
    abpDr: number
    abpRx1DelayS: number
    rejoinAfter: number
    /** longest wait (duty cycle, join back-off) inside one send; longer: the send returns false */
    maxWaitMs: number
    constructor(joinDr: number, abpDr: number, abpRx1DelayS: number, rejoinAfter: number, maxWaitMs: number) {
        this.joinDr = joinDr
        this.abpDr = abpDr
        this.abpRx1DelayS = abpRx1DelayS
        this.rejoinAfter = rejoinAfter
        this.maxWaitMs = maxWaitMs
    }
}

/** The smallest N over the region's LoRa uplink DRs. */
function smallestN(r: Region): number {
    let n = 255
    for (let dr = 0; dr <= r.maxUplinkDr; dr++) {
        if (loraDr(r, dr) === false) continue
        const m = maxPayloadOf(r, dr)
        if (m > 0 && m < n) n = m
    }
    return n
}

export class LorawanLink implements Link {
    readonly mtu: number
    readonly identifiesSender: boolean
    readonly dev: LorawanDevice
    private cred: LorawanCredentials
    private opt: LorawanOptions
    private control: AppControl
    /** ds.millis() before which no join-request may go (the back-off) */
    joinAt: number
    /** failed join attempts in a row (each two step the join DR down) */
    joinFailures: number
    /** uplinks since the last downlink, and since boot */
    silent: number
    uplinks: number
    /** DeviceTimeAns: Unix ms at ds.millis() `timeAt`; -1 until known */
    timeUnixMs: number
    timeAt: number
    private rnd: number
    private told: boolean

    constructor(region: Region, radio: LoraRadio, counters: LorawanCounters, cred: LorawanCredentials, subBand: number, errorMs: number, opt: LorawanOptions, control: AppControl) {
        this.dev = new LorawanDevice(region, radio, counters, region.dynamic ? 0 : subBand, errorMs)
        this.cred = cred
        this.opt = opt
        this.control = control
        this.mtu = smallestN(region)
        // the network server names the sender (DevAddr, DevEUI): fragments carry no hint
        this.identifiesSender = true
        // a boot owes the whole silence of the last join-request (time off power never counts)
        this.joinAt = ds.millis() + counters.joinOffMs
        // and the whole duty-cycle time-off stored before the last transmissions
        resumeTimeOff(this.dev.picker, counters.timeOffMs, ds.millis())
        this.joinFailures = 0
        this.silent = 0
        this.uplinks = 0
        this.timeUnixMs = -1
        this.timeAt = 0
        this.rnd = 0
        this.told = false
        if (cred.abp !== null) this.startAbp()
    }

    private startAbp(): void {
        const d = this.dev
        d.session = this.cred.abp
        d.down = new DownlinkCounter()
        // the session goes on across reboots: so does its downlink counter (another session's does not count)
        d.downTag = this.cred.abpTag
        d.down.last = d.counters.fCntDownOf(d.downTag)
        d.st.dr = this.opt.abpDr
        d.st.rx1Delay = this.opt.abpRx1DelayS
        // and so do the MAC settings the network set in it (LoRaWAN 1.0.4: ABP does not reset them)
        const st = d.st
        if (restoreMacSettings(d.region, st, d.counters.macSettingsOf(d.downTag)))
            console.log(`sceau-lorawan mac-restored dr=${st.dr} rx1-delay=${st.rx1Delay} rx2=${st.rx2Freq}/${st.rx2Dr}`)
    }

    /** False (said once on the console) when there are no usable credentials. */
    private usable(): boolean {
        const c = this.cred
        if (c.otaa !== null || c.abp !== null) return true
        if (this.told === false) console.log(`sceau-lorawan ${c.problem}`)
        this.told = true
        return false
    }

    /**
     * Joins when there is no session (OTAA), within the join back-off and the duty cycle (at most
     * maxWaitMs of waiting); false when the link cannot send now. The firmware calls it before it
     * takes a counter and seals, so the frame is cut to N of the DR the data uplink goes at (after a
     * join: the join's DR, not the DR before it), and signs only after the join-accept's window.
     */
    async ready(): Promise<boolean> {
        if (this.usable() === false) return false
        if (this.dev.session !== null) return true
        return await this.join()
    }

    sendMtu(): number {
        return maxPayloadOf(this.dev.region, this.dev.st.dr)
    }

    devEui(): string {
        return this.cred.devEui
    }

    clockSeconds(): number {
        if (this.timeUnixMs < 0) return -1
        return Math.floor((this.timeUnixMs + ds.millis() - this.timeAt) / 1000)
    }

    /** The join DR of the next attempt: the configured one, one lower per two failures, at least DR0. */
    private joinDr(): number {
        const r = this.dev.region
        const first = this.opt.joinDr >= 0 ? this.opt.joinDr : r.dynamic ? 5 : 0
        const dr = first - (this.joinFailures >> 1)
        return dr < 0 ? 0 : dr
    }

    /** Waits `ms` when it is within the send budget; false when it is not (or negative: never). */
    private async waitUpTo(ms: number): Promise<boolean> {
        if (ms < 0) return false
        // one console line per wait owed to the duty cycle or the join back-off (sceau sim lorawan counts them)
        if (ms > 0) console.log(`sceau-lorawan wait ${Math.ceil(ms)}${ms > this.opt.maxWaitMs ? " too-long" : ""}`)
        if (ms > this.opt.maxWaitMs) return false
        if (ms > 0) await ds.sleep(Math.ceil(ms))
        return true
    }

    private async join(): Promise<boolean> {
        const d = this.dev
        const owed = this.joinAt - ds.millis()
        if ((await this.waitUpTo(owed < 0 ? 0 : owed)) === false) return false
        const dr = this.joinDr()
        let res = await otaaJoin(d, this.cred.otaa, dr, this.rnd++)
        while (res === "no-channel") {
            if ((await this.waitUpTo(d.picker.waitMs)) === false) return false
            res = await otaaJoin(d, this.cred.otaa, dr, this.rnd++)
        }
        this.joinAt = d.txEnd + d.counters.joinOffMs
        if (res !== "") {
            this.joinFailures++
            console.log(`sceau-lorawan join-failed ${res} devnonce=${d.devNonce} dr=${dr} off-ms=${d.counters.joinOffMs}`)
            return false
        }
        this.joinFailures = 0
        this.silent = 0
        // data starts at the DR that reached the network; ADR moves it from there
        d.st.dr = dr
        console.log(`sceau-lorawan joined devaddr=${d.session.devAddr.toString("hex")} devnonce=${d.devNonce} dr=${dr}`)
        return true
    }

    private sessionLost(why: string): void {
        console.log(`sceau-lorawan session-lost ${why}`)
        this.silent = 0
        this.dev.sessionLost = false
        // ABP cannot rejoin: it keeps its session (and says so)
        if (this.cred.otaa !== null) this.dev.session = null
    }

    /** After one class A cycle: time, control downlinks, session loss. */
    private afterCycle(res: SendResult, gps0: number, frac0: number): void {
        const d = this.dev
        const st = d.st
        const dl = res.downlink
        if (dl === null) this.silent++
        else {
            this.silent = 0
            if (st.gpsSeconds >= 0 && (st.gpsSeconds !== gps0 || st.gpsFrac !== frac0)) {
                this.timeUnixMs = (st.gpsSeconds + GPS_EPOCH_UNIX_S - GPS_LEAP_S) * 1000 + Math.floor((st.gpsFrac * 1000) / 256)
                this.timeAt = d.txEnd
            }
            if (dl.fPort === CONTROL_FPORT) applyControlDownlink(this.control, dl.payload)
        }
        if (d.sessionLost) this.sessionLost("fcnt-gap")
        else if (this.silent >= this.opt.rejoinAfter) this.sessionLost(`silent=${this.silent}`)
    }

    async send(datagram: Buffer): Promise<boolean> {
        if (this.usable() === false) return false
        const d = this.dev
        // a session lost between two fragments of a frame: join and go on with its fragments
        // (refused below if the join's DR cannot carry them; the firmware then seals again)
        if (d.session === null && (await this.join()) === false) return false
        // at most a few frames: MAC answers that did not fit beside the datagram go first, alone
        for (let attempt = 0; attempt < 4; attempt++) {
            const st = d.st
            if (datagram.length > maxPayloadOf(d.region, st.dr)) return false
            if (attempt === 0) {
                const every = this.timeUnixMs < 0 ? TIME_REQUEST_EVERY : TIME_RESYNC_EVERY
                if (this.uplinks % every === 0) requestDeviceTime(st)
                if (this.silent >= this.opt.rejoinAfter >> 1) requestLinkCheck(st)
            }
            const gps0 = st.gpsSeconds
            const frac0 = st.gpsFrac
            let res = await classACycle(d, SCEAU_FPORT, datagram, false, this.rnd++)
            while (res.error === "no-channel") {
                if ((await this.waitUpTo(d.picker.waitMs)) === false) return false
                res = await classACycle(d, SCEAU_FPORT, datagram, false, this.rnd++)
            }
            this.uplinks++
            this.afterCycle(res, gps0, frac0)
            if (res.carriedApp) return true
            if (d.session === null) return false
        }
        return false
    }
}

/**
 * The link of src/config.ts's LORAWAN_* settings on `radio` (already initialised): the stored
 * counters and credentials loaded. Without usable credentials the link still opens: it says so on
 * the console at its first send and keeps refusing (the firmware keeps the readings queued).
 */
export async function openLorawanLink(radio: LoraRadio, control: AppControl): Promise<LorawanLink> {
    const r = regionByName(LORAWAN_REGION)
    if (r === null) throw new Error(`lorawan: no region ${LORAWAN_REGION}`)
    if (LORAWAN_RX2_DR >= 0) setDefaultRx2Dr(r, LORAWAN_RX2_DR)
    const counters = new LorawanCounters()
    await counters.load()
    const cred = await loadLorawanCredentials()
    const opt = new LorawanOptions(LORAWAN_JOIN_DR, LORAWAN_ABP_DR, LORAWAN_ABP_RX1_DELAY_S, LORAWAN_REJOIN_AFTER, LORA_MAX_WAIT_MS)
    return new LorawanLink(r, radio, counters, cred, LORAWAN_SUB_BAND, LORAWAN_RX_ERROR_MS, opt, control)
}
