// The receive side of the class A MAC: a frame heard in RX1 or RX2 is opened with its rebuilt
// 32-bit counter (src/lorawan-counters.ts); only an accepted one touches the MAC state: its SNR
// is kept for DevStatusAns, its MAC commands (FOpts, or the FRMPayload of FPort 0, decrypted with
// NwkSKey) are applied, and a confirmed one makes the next uplink carry ACK. A refused frame
// (replay, other device, bad MIC) changes nothing: sticky answers keep being repeated.
import { Downlink, LorawanSession, MAX_FOPTS, Uplink, encodeUplink } from "./lorawan-frames"
import { DownlinkCounter, acceptDownlink } from "./lorawan-counters"
import {
    MacState,
    adrBackOff,
    adrCountUplink,
    adrDownlinkHeard,
    channelBand,
    channelEnabled,
    channelSupportsDr,
    commandCids,
    processDownlinkCommands,
    upLen,
    uplinkSent,
} from "./lorawan-mac-commands"
import { Region, maxPayloadOf } from "./lorawan-region"
import { printLong } from "./console-lines"

export function handleDownlink(r: Region, s: LorawanSession, dc: DownlinkCounter, st: MacState, phy: Buffer, snrDb: number): Downlink {
    const d = acceptDownlink(s, dc, phy)
    if (d.ok === false) return d
    st.snr = Math.round(snrDb)
    adrDownlinkHeard(st)
    if (d.confirmed) st.ackDown = true
    const cmds = d.fPort === 0 ? d.payload : d.fOpts
    const n = processDownlinkCommands(r, st, cmds)
    // one console line per downlink with commands: their CIDs (sceau sim lorawan counts them)
    if (n > 0) printLong("sceau-lorawan mac", commandCids(cmds, n))
    return d
}

/** One uplink to send, and what it carries. */
export class UplinkOut {
    phy: Buffer
    /** the application payload went in this frame (else send it again with the next FCnt) */
    carriedApp: boolean
    /** the queued MAC commands went in this frame */
    carriedMac: boolean
    constructor(phy: Buffer, carriedApp: boolean, carriedMac: boolean) {
        this.phy = phy
        this.carriedApp = carriedApp
        this.carriedMac = carriedMac
    }
}

/**
 * The next uplink with counter `fCnt` for an application payload on `fPort` (1..223), at the
 * state's DR. The queued MAC commands ride in FOpts when they fit there (15 bytes) and beside the
 * payload within the DR's N; otherwise, when some of them were never sent, they go first in an
 * FPort 0 frame of their own (as many whole commands as N allows) and the payload waits for the
 * next counter; when they are only repeats of sticky answers, the payload goes without them and
 * they stay queued. ADR is the state's, ACK is owed after a confirmed downlink, ADRACKReq is set
 * after ADR_ACK_LIMIT uplinks without a downlink. Call `uplinkDone` once the frame is on air.
 */
export function nextUplink(r: Region, s: LorawanSession, st: MacState, fCnt: number, fPort: number, payload: Buffer, confirmed: boolean): UplinkOut {
    const n = maxPayloadOf(r, st.dr)
    const q = st.queued
    let mac = 0 // 0 none, 1 FOpts, 2 FPort 0
    if (q.length > 0) {
        if (q.length <= MAX_FOPTS && payload.length + q.length <= n) mac = 1
        else if (st.fresh) mac = 2
    }
    let up: Uplink
    if (mac === 2) {
        // whole commands up to N bytes
        let len = 0
        while (len < q.length) {
            const next = len + 1 + upLen(q[len])
            if (next > n) break
            len = next
        }
        up = new Uplink(fCnt, 0, q.slice(0, len))
    } else {
        up = new Uplink(fCnt, fPort, payload)
        if (mac === 1) up.fOpts = q
        up.confirmed = confirmed
    }
    up.adr = st.adr
    up.adrAckReq = adrCountUplink(st)
    up.ack = st.ackDown
    return new UplinkOut(encodeUplink(s, up), mac !== 2, mac !== 0)
}

/** After `out` went on air: the MAC commands it carried are done with (sticky answers stay), the ACK is given, the ADR back-off steps. */
export function uplinkDone(r: Region, st: MacState, out: UplinkOut): void {
    if (out.carriedMac) uplinkSent(st)
    else st.ackDown = false
    adrBackOff(r, st)
}

/**
 * Uplink channel choice under the regional duty cycle (EU868: per sub-band, T_off = T_air / dc -
 * T_air) and DutyCycleReq's aggregated limit (1 / 2^MaxDCycle over all channels). Times are ms on
 * the caller's clock. In RAM; what a reboot must still wait is stored by src/lorawan-timeoff.ts.
 */
export class ChannelPicker {
    /** per duty-cycle band of the region: when it opens again */
    bandFreeAt: number[]
    /** the aggregated limit's */
    aggFreeAt: number
    /** set by pick(): the wait when no channel is open (ms), else 0 */
    waitMs: number
    constructor(r: Region) {
        this.bandFreeAt = []
        for (let i = 0; i < r.bands.length; i += 3) this.bandFreeAt.push(0)
        this.aggFreeAt = 0
        this.waitMs = 0
    }

    private openAt(r: Region, st: MacState, ch: number): number {
        const b = channelBand(r, st, ch)
        const band = b < 0 ? 0 : this.bandFreeAt[b]
        return band > this.aggFreeAt ? band : this.aggFreeAt
    }

    /**
     * An enabled channel that supports `dr` and is open at `now`, chosen by `rnd` (any
     * non-negative integer: the caller's random draw) among the open ones; -1 when none is open
     * (then `waitMs` says how long until one is) or none supports `dr` (then `waitMs` is -1).
     */
    pick(r: Region, st: MacState, dr: number, now: number, rnd: number): number {
        let open = 0
        let soonest = -1
        for (let ch = 0; ch < r.nbChannels; ch++) {
            if (channelEnabled(st, ch) === false || channelSupportsDr(r, st, ch, dr) === false) continue
            const at = this.openAt(r, st, ch)
            if (at <= now) open++
            else if (soonest < 0 || at < soonest) soonest = at
        }
        if (open === 0) {
            // whole milliseconds, rounded up: a fractional sleep may return at once and spin
            this.waitMs = soonest < 0 ? -1 : Math.ceil(soonest - now)
            return -1
        }
        this.waitMs = 0
        let k = rnd % open
        for (let ch = 0; ch < r.nbChannels; ch++) {
            if (channelEnabled(st, ch) === false || channelSupportsDr(r, st, ch, dr) === false) continue
            if (this.openAt(r, st, ch) > now) continue
            if (k === 0) return ch
            k--
        }
        return -1
    }

    /** A transmission of `airtimeMs` on channel `ch` started at `start`. */
    record(r: Region, st: MacState, ch: number, start: number, airtimeMs: number): void {
        const b = channelBand(r, st, ch)
        if (b >= 0) this.bandFreeAt[b] = start + airtimeMs * r.bands[3 * b + 2]
        if (st.maxDutyCycle > 0) this.aggFreeAt = start + airtimeMs * (1 << st.maxDutyCycle)
    }
}
