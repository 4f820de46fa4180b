// Data-uplink duty-cycle time-off kept across reboots (EU868 sub-bands, DutyCycleReq's aggregated
// limit). The device has no clock across reboots, so, as for the join back-off
// (src/lorawan-backoff.ts), what is stored is a silence in ms that a boot waits in full from
// power-on (time spent powered off never counts): per duty-cycle band of the region, and one more
// value for the aggregated limit, in the counters' settings write (src/lorawan-state.ts).
//
// Invariant: for every band, the stored value is at least the time-off still owed, from any
// instant, by every transmission that has started. So a power cut at any point, a reboot loop
// included, never lets a band open early.
//
// Few flash writes (reserve ahead, like FCnt up):
// - every settings write of the counters (FCnt up block, DevNonce, JoinNonce) stores the values
//   of `timeOffToStore`: per band, the larger of the time-off owed now and the time-off of the
//   largest frame at the DR about to be used (N + 13 bytes) on it, bands without an enabled channel
//   only what they owe;
// - before a transmission, `timeOffCovered` checks the stored values against what that frame
//   imposes (its airtime times the band's divisor, counted from its start); only when they fall
//   short (the DR went down, DutyCycleReq tightened the aggregate, a channel in a new band) is
//   there an extra write.
// So at a steady DR a time-off costs no write of its own. The price: a boot waits the time-off of
// a largest frame at the last DR (EU868 1 % band: DR0 about 4.6 min, DR5 about 11 s) even after a
// long power-off, as the join back-off does.
import { ChannelPicker } from "./lorawan-mac"
import { MacState, channelBand, channelEnabled } from "./lorawan-mac-commands"
import { Region } from "./lorawan-region"

/** How many values the region stores: one per duty-cycle band, then the aggregated limit. */
export function timeOffSlots(r: Region): number {
    return r.bands.length / 3 + 1
}

/** Whether band `b` holds an enabled channel of the state. */
function bandInUse(r: Region, st: MacState, b: number): boolean {
    for (let ch = 0; ch < r.nbChannels; ch++) if (channelEnabled(st, ch) && channelBand(r, st, ch) === b) return true
    return false
}

function atLeast(a: number, b: number): number {
    return a > b ? a : b
}

/**
 * The values a settings write stores at `now`: per band, the larger of what it owes now and
 * `reserveAirMs` (the airtime of the largest frame at the coming DR) times its divisor; last, the
 * same for the aggregated limit of DutyCycleReq (0 reserve when there is none).
 */
export function timeOffToStore(r: Region, st: MacState, picker: ChannelPicker, now: number, reserveAirMs: number): number[] {
    const out: number[] = []
    const nb = r.bands.length / 3
    for (let b = 0; b < nb; b++) {
        const owed = Math.ceil(picker.bandFreeAt[b] - now)
        const reserve = bandInUse(r, st, b) ? Math.ceil(reserveAirMs * r.bands[3 * b + 2]) : 0
        out.push(atLeast(atLeast(owed, reserve), 0))
    }
    const aggOwed = Math.ceil(picker.aggFreeAt - now)
    const aggReserve = st.maxDutyCycle > 0 ? Math.ceil(reserveAirMs * (1 << st.maxDutyCycle)) : 0
    out.push(atLeast(atLeast(aggOwed, aggReserve), 0))
    return out
}

/**
 * Whether the stored values cover a transmission of `airtimeMs` on channel `ch`: a power cut any
 * time after it starts owes at most airtime times the divisor (ChannelPicker.record).
 */
export function timeOffCovered(r: Region, st: MacState, stored: number[], ch: number, airtimeMs: number): boolean {
    const b = channelBand(r, st, ch)
    if (b >= 0 && stored[b] < Math.ceil(airtimeMs * r.bands[3 * b + 2])) return false
    if (st.maxDutyCycle > 0 && stored[stored.length - 1] < Math.ceil(airtimeMs * (1 << st.maxDutyCycle))) return false
    return true
}

/** At boot: every band (and the aggregate) closed for the whole stored silence from `now`. */
export function resumeTimeOff(picker: ChannelPicker, stored: number[], now: number): void {
    for (let b = 0; b < picker.bandFreeAt.length; b++) picker.bandFreeAt[b] = now + stored[b]
    picker.aggFreeAt = now + stored[stored.length - 1]
}
