// LoRaWAN counters of a 1.0.4 end device: the 32-bit downlink FCnt rebuilt from its 16 bits on
// air (replays refused), and the join nonces (pure functions here; their persistence is in
// lorawan-state.ts).
import { LorawanSession, Downlink, openDownlink, peekDownlinkFCnt } from "./lorawan-frames"

export const FCNT_MAX = 4294967295
/**
 * The largest downlink counter step a session accepts: LoRaWAN 1.0.3's MAX_FCNT_GAP. 1.0.4 no
 * longer defines it (network servers allow one 16-bit roll-over); a device that hears a
 * MIC-valid downlink further ahead than this has lost step with the network and rejoins.
 */
export const MAX_FCNT_GAP = 16384

/**
 * The 32-bit value of a downlink counter whose low 16 bits are `fCnt16`, given the last accepted
 * one (`last`, -1 when the session has accepted none): the smallest value above `last` with
 * those low bits. -1 when there is none (the counter space is used up). A replayed frame rebuilds
 * to a value above `last` that is not the one its MIC was computed with, so the MIC check refuses it.
 */
export function rebuildFCntDown(last: number, fCnt16: number): number {
    if (last < 0) return fCnt16
    let c = (last >>> 16) * 65536 + fCnt16
    if (c <= last) c += 65536
    return c > FCNT_MAX ? -1 : c
}

/** The session's downlink counter: -1 until the first downlink is accepted. */
export class DownlinkCounter {
    last: number
    /**
     * The network's count is known to start at 0 (an OTAA session: NFCntDown is 0 after the join),
     * so the first downlink too must be within MAX_FCNT_GAP of it. False (ABP): the network's count
     * is unknown until a downlink is accepted.
     */
    fromZero: boolean
    constructor() {
        this.last = -1
        this.fromZero = false
    }
}

/**
 * Opens a received downlink: rebuilds its counter, checks address, counter and MIC with the
 * frame coding, and only then moves the counter. A genuine frame more than MAX_FCNT_GAP ahead of
 * the last accepted one (of -1 before the first, when `fromZero`) is refused with "fcnt-gap" (the
 * counter stays: the caller rejoins).
 * Never throws.
 */
export function acceptDownlink(s: LorawanSession, dc: DownlinkCounter, phy: Buffer): Downlink {
    const f16 = peekDownlinkFCnt(s.devAddr, phy)
    if (f16 < 0) return openDownlink(s, 0, phy) // the frame coding names the reason
    const full = rebuildFCntDown(dc.last, f16)
    if (full < 0) return new Downlink("fcnt")
    const d = openDownlink(s, full, phy)
    if (d.ok === false) return d
    if ((dc.last >= 0 || dc.fromZero) && full - dc.last > MAX_FCNT_GAP) return new Downlink("fcnt-gap")
    dc.last = full
    return d
}

/**
 * 1.0.4 (section 6.2.3): a join-accept whose JoinNonce is not above the last accepted one
 * (`last`, -1 for none) is a replay and is ignored. The network server counts JoinNonce up
 * (The Things Stack and ChirpStack do); a device re-created on the server needs its stored
 * value reset (issue 11: `sceau provision --reset-lorawan`).
 */
export function joinNonceOk(last: number, joinNonce: number): boolean {
    return joinNonce > last
}
