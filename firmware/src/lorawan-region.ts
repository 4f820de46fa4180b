// LoRaWAN regional parameters as data (RP002-1.0.x; values cross-checked with the LoRa Alliance's
// reference stack, Lora-net/LoRaMac-node src/mac/region, see /work/shared/design/lorawan-notes.md
// section 1.3). Adding a region (AS923, AU915, IN865) means adding one `Region` table below and
// one line in `regionByName`; the MAC code reads nothing region-specific elsewhere.
//
// Frequencies are integers in Hz (below 2^31, so they stay int32 in the VM). Data rates are
// indexes into the per-DR tables; a DR whose spreading factor is 0 is FSK or RFU, which the
// LoRa-only drivers cannot send, so the MAC refuses it.

export class Region {
    name: string
    /** uplink channels the MAC can address (EU868 16, US915 72) */
    nbChannels: number
    /**
     * true: channels are defined by the network (EU868: 3 default ones, then CFList type 0 and
     * NewChannelReq); false: a fixed grid of 125 kHz and 500 kHz channels (US915, CFList type 1).
     */
    dynamic: boolean
    /** dynamic plans: the default channels (also the join channels), DR range 0..defaultMaxDr */
    defaultFreqs: number[]
    defaultMaxDr: number
    /** fixed plans: 125 kHz channel n at base125 + n·step125 (n < first500), 500 kHz ones after */
    base125: number
    step125: number
    first500: number
    base500: number
    step500: number
    /** fixed plans: the DRs of the 125 kHz and the 500 kHz uplink channels */
    dr125Max: number
    dr500: number
    /** spreading factor per DR (0: FSK or RFU) and bandwidth in kHz */
    sf: number[]
    bwKHz: number[]
    /** RP002's N per DR: the largest FRMPayload without FOpts (N = M - 8; FOpts bytes come out of it), 0 when none */
    maxPayload: number[]
    /** the uplink DRs */
    maxUplinkDr: number
    /** TXPower index 0 is maxEirp, each step 2 dB less */
    maxEirpDbm: number
    maxTxPowerIndex: number
    /** RX1: the largest RX1DROffset, and the table [upDr * 8 + offset] (empty: upDr - offset, at least 0) */
    maxRx1DrOffset: number
    rx1DrTable: number[]
    /** RX1 frequency: 0 = the uplink's (or the DlChannelReq one); else base + step · (ch mod rx1Count) */
    rx1Base: number
    rx1Step: number
    rx1Count: number
    /** downlink DRs a device accepts for RX2 (RXParamSetupReq) */
    minDownDr: number
    maxDownDr: number
    /** RX2 defaults */
    rx2Freq: number
    rx2Dr: number
    /** uplink frequency band; downlinks must be in it too (EU868), or on the RX1 grid (US915) */
    minFreq: number
    maxFreq: number
    /** duty-cycle sub-bands as [low, high, divisor] triples, both ends included; divisor 100 = 1 % */
    bands: number[]
    /** uplink dwell-time limit in ms (0: none) */
    dwellMs: number
    /** the CFList type this region's join-accept carries */
    cfListType: number
    constructor(name: string) {
        this.name = name
        this.nbChannels = 16
        this.dynamic = true
        this.defaultFreqs = []
        this.defaultMaxDr = 5
        this.base125 = 0
        this.step125 = 0
        this.first500 = 0
        this.base500 = 0
        this.step500 = 0
        this.dr125Max = 0
        this.dr500 = 0
        this.sf = []
        this.bwKHz = []
        this.maxPayload = []
        this.maxUplinkDr = 0
        this.maxEirpDbm = 0
        this.maxTxPowerIndex = 0
        this.maxRx1DrOffset = 0
        this.rx1DrTable = []
        this.rx1Base = 0
        this.rx1Step = 0
        this.rx1Count = 0
        this.minDownDr = 0
        this.maxDownDr = 0
        this.rx2Freq = 0
        this.rx2Dr = 0
        this.minFreq = 0
        this.maxFreq = 0
        this.bands = []
        this.dwellMs = 0
        this.cfListType = 0
    }
}

function eu868(): Region {
    const r = new Region("EU868")
    r.defaultFreqs = [868100000, 868300000, 868500000]
    r.defaultMaxDr = 5
    //      DR:  0   1   2   3   4   5   6   7 (FSK)
    r.sf = [12, 11, 10, 9, 8, 7, 7, 0]
    r.bwKHz = [125, 125, 125, 125, 125, 125, 250, 0]
    r.maxPayload = [51, 51, 51, 115, 242, 242, 242, 242]
    r.maxUplinkDr = 7
    r.maxEirpDbm = 16
    r.maxTxPowerIndex = 7
    r.maxRx1DrOffset = 5
    r.minDownDr = 0
    r.maxDownDr = 7
    r.rx2Freq = 869525000
    r.rx2Dr = 0
    r.minFreq = 863000000
    r.maxFreq = 870000000
    // ETSI EN 300 220 sub-bands as RP002 uses them (h1.2 .. h1.7)
    r.bands = [
        863000000, 864999999, 1000, // 0.1 %
        865000000, 868000000, 100, // 1 %
        868000001, 868600000, 100, // 1 % (g1: the default channels)
        868700000, 869200000, 1000, // 0.1 % (g2)
        869400000, 869650000, 10, // 10 % (g3: RX2)
        869700000, 870000000, 100, // 1 % (g4)
    ]
    r.cfListType = 0
    return r
}

function us915(): Region {
    const r = new Region("US915")
    r.nbChannels = 72
    r.dynamic = false
    r.base125 = 902300000
    r.step125 = 200000
    r.first500 = 64
    r.base500 = 903000000
    r.step500 = 1600000
    r.dr125Max = 3
    r.dr500 = 4
    //      DR:  0   1   2  3  4  5  6  7   8   9  10 11 12 13
    r.sf = [10, 9, 8, 7, 8, 0, 0, 0, 12, 11, 10, 9, 8, 7]
    r.bwKHz = [125, 125, 125, 125, 500, 0, 0, 0, 500, 500, 500, 500, 500, 500]
    // uplinks under the 400 ms dwell limit (DR0..4), downlinks (DR8..13)
    r.maxPayload = [11, 53, 125, 242, 242, 0, 0, 0, 53, 129, 242, 242, 242, 242]
    r.maxUplinkDr = 4
    r.maxEirpDbm = 30
    r.maxTxPowerIndex = 14
    r.maxRx1DrOffset = 3
    // RX1 DR for upDr 0..4 and RX1DROffset 0..3 (row stride 8)
    r.rx1DrTable = [
        10, 9, 8, 8, 0, 0, 0, 0, //
        11, 10, 9, 8, 0, 0, 0, 0, //
        12, 11, 10, 9, 0, 0, 0, 0, //
        13, 12, 11, 10, 0, 0, 0, 0, //
        13, 13, 12, 11, 0, 0, 0, 0,
    ]
    r.rx1Base = 923300000
    r.rx1Step = 600000
    r.rx1Count = 8
    r.minDownDr = 8
    r.maxDownDr = 13
    r.rx2Freq = 923300000
    r.rx2Dr = 8
    r.minFreq = 902000000
    r.maxFreq = 928000000
    r.bands = []
    r.dwellMs = 400
    r.cfListType = 1
    return r
}

/** "EU868" or "US915"; null for a region this firmware has no table for. */
export function regionByName(name: string): Region {
    if (name === "EU868") return eu868()
    if (name === "US915") return us915()
    return null
}

/**
 * Replaces the region's default RX2 data rate (before the join-accept's or RXParamSetupReq's):
 * The Things Network's EU868 plan uses DR3 (SF9) where RP002 says DR0. Throws for a DR that is no
 * LoRa downlink DR of the region.
 */
export function setDefaultRx2Dr(r: Region, dr: number): void {
    if (dr < r.minDownDr || dr > r.maxDownDr || loraDr(r, dr) === false) throw new Error(`lorawan: RX2 DR${dr} is no downlink data rate of ${r.name}`)
    r.rx2Dr = dr
}

/** Index of the duty-cycle band holding `freq`, or -1 (then the frequency is not usable). */
export function bandOf(r: Region, freq: number): number {
    for (let i = 0; i < r.bands.length; i += 3) if (freq >= r.bands[i] && freq <= r.bands[i + 1]) return i / 3
    return -1
}

/** Whether a device may transmit on (dynamic plans) or listen to `freq`. */
export function uplinkFreqOk(r: Region, freq: number): boolean {
    if (freq < r.minFreq || freq > r.maxFreq) return false
    return r.bands.length === 0 || bandOf(r, freq) >= 0
}

/** Whether `freq` is a frequency a downlink window may use (RXParamSetupReq, DlChannelReq). */
export function downlinkFreqOk(r: Region, freq: number): boolean {
    if (r.rx1Count === 0) return uplinkFreqOk(r, freq)
    if (freq < r.rx1Base) return false
    const k = (freq - r.rx1Base) / r.rx1Step
    return k === Math.floor(k) && k < r.rx1Count
}

/** The time a band stays closed after `airtimeMs` on `freq` (1.0.4: T_off = T_air / dc - T_air). */
export function timeOffMs(r: Region, freq: number, airtimeMs: number): number {
    const b = bandOf(r, freq)
    if (b < 0) return 0
    return airtimeMs * (r.bands[3 * b + 2] - 1)
}

/** RX1 data rate for an uplink at `upDr` with RX1DROffset `offset`. */
export function rx1Dr(r: Region, upDr: number, offset: number): number {
    if (r.rx1DrTable.length > 0) return r.rx1DrTable[upDr * 8 + offset]
    const d = upDr - offset
    return d < 0 ? 0 : d
}

/** Whether `dr` is a LoRa data rate of this region (FSK and RFU ones are not). */
export function loraDr(r: Region, dr: number): boolean {
    return dr >= 0 && dr < r.sf.length && r.sf[dr] !== 0
}

/** RP002's N at `dr` (FRMPayload plus FOpts); 0 when the DR carries none. */
export function maxPayloadOf(r: Region, dr: number): number {
    if (dr < 0 || dr >= r.maxPayload.length) return 0
    return r.maxPayload[dr]
}
