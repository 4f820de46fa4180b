// ABP: the MAC settings the network changed, kept across reboots. LoRaWAN L2 1.0.4 (section 6.1,
// activation by personalization) has an ABP device keep what MAC commands set across resets, as
// the network server does not know the device rebooted: RX1 delay (RXTimingSetupReq), RX2
// frequency and DR and RX1DROffset (RXParamSetupReq), the channels (NewChannelReq, DlChannelReq,
// the LinkADRReq channel mask), DR, TXPower and NbTrans (LinkADRReq) and DutyCycleReq's aggregate.
// (OTAA does not: each join starts from the region's defaults, as the network server does.)
//
// The record is a hex string stored in `sceau_lorawan` beside the ABP session's FCnt down
// (src/lorawan-state.ts): written with it, in the one write an accepted downlink already costs,
// so a setting changed by a downlink and that downlink's counter land together or not at all, and
// it belongs to the same ABP session (new keys: the record is ignored, the defaults apply).
//
//   byte 0      version (MAC_RECORD_VERSION)
//   byte 1      the region's channel count (a record of another region is ignored)
//   byte 2      DR | TXPower << 4
//   byte 3      NbTrans | RX1 delay (s) << 4
//   byte 4      RX2 DR | RX1DROffset << 4
//   bytes 5-7   RX2 frequency / 100 Hz, little-endian
//   byte 8      DutyCycleReq's MaxDCycle
//   then        the channel mask, 16-bit words little-endian (EU868 1, US915 5)
//   then        dynamic plans: per channel that differs from the region's defaults, 8 bytes:
//               index, frequency / 100 Hz (3 bytes), DR min | DR max << 4, RX1 frequency / 100 Hz (3)
// EU868 with no added channel: 11 bytes (22 hex digits); each added channel 8 more; US915: 19.
import { MacState, anyEnabled, initMacState } from "./lorawan-mac-commands"
import { Region, downlinkFreqOk, loraDr, uplinkFreqOk } from "./lorawan-region"

export const MAC_RECORD_VERSION = 1
const FIXED = 9

function words(r: Region): number {
    return (r.nbChannels + 15) >> 4
}

function put24(b: Buffer, o: number, hz: number): void {
    const v = Math.round(hz / 100)
    b[o] = v & 255
    b[o + 1] = (v >> 8) & 255
    b[o + 2] = (v >> 16) & 255
}

function get24(b: Buffer, o: number): number {
    return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) * 100
}

/** Dynamic plans: whether channel `i` differs from the region's defaults. */
function changed(st: MacState, def: MacState, i: number): boolean {
    return st.freqs[i] !== def.freqs[i] || st.drMin[i] !== def.drMin[i] || st.drMax[i] !== def.drMax[i] || st.dlFreqs[i] !== def.dlFreqs[i]
}

/** The record of the MAC settings in `st` (hex). */
export function encodeMacSettings(r: Region, st: MacState): string {
    const w = words(r)
    const def = r.dynamic ? initMacState(r, 0) : null
    let n = 0
    if (def !== null) for (let i = 0; i < r.nbChannels; i++) if (changed(st, def, i)) n++
    const b = Buffer.alloc(FIXED + 2 * w + 8 * n)
    b[0] = MAC_RECORD_VERSION
    b[1] = r.nbChannels
    b[2] = (st.dr & 15) | ((st.txPower & 15) << 4)
    b[3] = (st.nbTrans & 15) | ((st.rx1Delay & 15) << 4)
    b[4] = (st.rx2Dr & 15) | ((st.rx1DrOffset & 7) << 4)
    put24(b, 5, st.rx2Freq)
    b[8] = st.maxDutyCycle & 15
    for (let k = 0; k < w; k++) {
        b[FIXED + 2 * k] = st.chMask[k] & 255
        b[FIXED + 2 * k + 1] = (st.chMask[k] >> 8) & 255
    }
    let o = FIXED + 2 * w
    if (def !== null) {
        for (let i = 0; i < r.nbChannels; i++) {
            if (!changed(st, def, i)) continue
            b[o] = i
            put24(b, o + 1, st.freqs[i])
            b[o + 4] = (st.drMin[i] & 15) | ((st.drMax[i] & 15) << 4)
            put24(b, o + 5, st.dlFreqs[i])
            o += 8
        }
    }
    return b.toString("hex")
}

function isHex(s: string): boolean {
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
    }
    return true
}

function applyRecord(st: MacState, b: Buffer, w: number, chs: number[]): void {
    st.dr = b[2] & 15
    st.txPower = b[2] >> 4
    st.nbTrans = b[3] & 15
    st.rx1Delay = b[3] >> 4
    st.rx2Dr = b[4] & 15
    st.rx1DrOffset = (b[4] >> 4) & 7
    st.rx2Freq = get24(b, 5)
    st.maxDutyCycle = b[8] & 15
    for (let k = 0; k < w; k++) st.chMask[k] = b[FIXED + 2 * k] | (b[FIXED + 2 * k + 1] << 8)
    for (const o of chs) {
        const i = b[o]
        st.freqs[i] = get24(b, o + 1)
        st.drMin[i] = b[o + 4] & 15
        st.drMax[i] = b[o + 4] >> 4
        st.dlFreqs[i] = get24(b, o + 5)
    }
}

/**
 * Applies a stored record to `st` (a boot's state: the region's defaults); false (and `st`
 * unchanged) when it is absent, of another version or region, holds a value the region refuses,
 * or leaves no enabled channel for its DR (the board could never send again).
 */
export function restoreMacSettings(r: Region, st: MacState, hex: string): boolean {
    if (typeof hex !== "string" || hex.length < 2 * FIXED || hex.length % 2 !== 0 || !isHex(hex)) return false
    const b = Buffer.from(hex, "hex")
    const w = words(r)
    const rest = b.length - FIXED - 2 * w
    if (b[0] !== MAC_RECORD_VERSION || b[1] !== r.nbChannels || rest < 0 || rest % 8 !== 0 || (!r.dynamic && rest > 0)) return false
    const dr = b[2] & 15
    const txPower = b[2] >> 4
    const nbTrans = b[3] & 15
    const rx1Delay = b[3] >> 4
    const rx2Dr = b[4] & 15
    const off = (b[4] >> 4) & 7
    const rx2Freq = get24(b, 5)
    if (dr > r.maxUplinkDr || !loraDr(r, dr) || txPower > r.maxTxPowerIndex || nbTrans < 1 || rx1Delay < 1) return false
    if (rx2Dr < r.minDownDr || rx2Dr > r.maxDownDr || !loraDr(r, rx2Dr) || off > r.maxRx1DrOffset || !downlinkFreqOk(r, rx2Freq)) return false
    const chs: number[] = []
    for (let o = FIXED + 2 * w; o < b.length; o += 8) {
        const i = b[o]
        const f = get24(b, o + 1)
        const dl = get24(b, o + 5)
        if (i >= r.nbChannels || (f !== 0 && !uplinkFreqOk(r, f)) || (dl !== 0 && !downlinkFreqOk(r, dl))) return false
        chs.push(o)
    }
    // tried on the region's defaults first (the channel check needs the record's channels)
    const trial = initMacState(r, 0)
    applyRecord(trial, b, w, chs)
    if (!anyEnabled(r, trial, trial.chMask, dr)) return false
    applyRecord(st, b, w, chs)
    return true
}
