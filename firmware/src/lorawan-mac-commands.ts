// LoRaWAN 1.0.4 MAC commands of a class A end device (LoRaWAN L2 1.0.4 section 5, regional
// rules from RP002-1.0.x through `Region`): the MAC state they change, the parser of a
// downlink's commands (FOpts, or the FRMPayload of FPort 0), and the answers the next uplinks carry.
//
// - Parsing stops at an unknown CID, or at a command cut short (the rest cannot be framed).
// - Contiguous LinkADRReq commands form one block (1.0.4 section 5.3): the channel masks apply
//   in order, DR, TXPower and NbTrans come from the last one, and every LinkADRReq of the block
//   gets a LinkADRAns with the same status; nothing changes unless all three bits are set. With
//   ADR off the device keeps its DR, TXPower and NbTrans (and acknowledges them if still valid)
//   and the channel mask still applies. DR or TXPower 0xF means "keep the current value".
// - RXParamSetupAns, RXTimingSetupAns and DlChannelAns are sticky: repeated in every uplink until
//   a class A downlink arrives (1.0.4 sections 5.4, 5.7, 5.9). Other answers go out once.
// - NewChannelReq, DlChannelReq (regions with a fixed channel grid) and TxParamSetupReq (EU868,
//   US915) are read past without an answer, as RP002 says for those regions.
import { Region, bandOf, downlinkFreqOk, loraDr, rx1Dr, uplinkFreqOk } from "./lorawan-region"

export const CID_LINK_CHECK = 0x02
export const CID_LINK_ADR = 0x03
export const CID_DUTY_CYCLE = 0x04
export const CID_RX_PARAM_SETUP = 0x05
export const CID_DEV_STATUS = 0x06
export const CID_NEW_CHANNEL = 0x07
export const CID_RX_TIMING_SETUP = 0x08
export const CID_TX_PARAM_SETUP = 0x09
export const CID_DL_CHANNEL = 0x0a
export const CID_DEVICE_TIME = 0x0d

/** Payload bytes of each network-to-device command by CID (-1: unknown in 1.0.4). */
const DOWN_LEN = [-1, -1, 2, 4, 1, 4, 0, 5, 1, 1, 4, -1, -1, 5]
/** Payload bytes of each device-to-network command by CID. */
const UP_LEN = [-1, -1, 0, 1, 0, 1, 2, 1, 0, 0, 1, -1, -1, 0]

/** Payload bytes of a device-to-network command (-1: unknown). */
export function upLen(cid: number): number {
    return cid < UP_LEN.length ? UP_LEN[cid] : -1
}

function isSticky(cid: number): boolean {
    return cid === CID_RX_PARAM_SETUP || cid === CID_RX_TIMING_SETUP || cid === CID_DL_CHANNEL || cid === CID_TX_PARAM_SETUP
}

export class MacState {
    /** uplink data rate, TXPower index, transmissions per uplink, ADR bit */
    dr: number
    txPower: number
    nbTrans: number
    adr: boolean
    /** enabled uplink channels, 16 per word (EU868 1 word, US915 5) */
    chMask: number[]
    /** dynamic plans: per channel, the uplink frequency (0: undefined), its DR range, its RX1 frequency (0: same) */
    freqs: number[]
    drMin: number[]
    drMax: number[]
    dlFreqs: number[]
    /** RX windows */
    rx1DrOffset: number
    rx1Delay: number
    rx2Dr: number
    rx2Freq: number
    /** DutyCycleReq: aggregated duty cycle 1 / 2^maxDutyCycle (0: only the regional limits) */
    maxDutyCycle: number
    /** DevStatusAns: battery (0 external power, 1..254, 255 unknown) and the last downlink's SNR in dB */
    battery: number
    snr: number
    /** LinkCheckAns: margin in dB and gateway count (-1: none yet) */
    linkMargin: number
    gwCnt: number
    /** DeviceTimeAns: seconds since the GPS epoch and 1/256 s fractions (-1: none yet) */
    gpsSeconds: number
    gpsFrac: number
    /** the commands the next uplink carries, in order (answers and device requests) */
    queued: Buffer
    /** a confirmed downlink was accepted: the next uplink sets ACK */
    ackDown: boolean
    /** `queued` holds something no uplink carried yet (not only repeats of sticky answers) */
    fresh: boolean
    /** ADR_ACK_CNT: uplinks since the last downlink, counted while ADR is on */
    adrAckCnt: number
    constructor() {
        this.adrAckCnt = 0
        this.ackDown = false
        this.fresh = false
        this.dr = 0
        this.txPower = 0
        this.nbTrans = 1
        this.adr = true
        this.chMask = []
        this.freqs = []
        this.drMin = []
        this.drMax = []
        this.dlFreqs = []
        this.rx1DrOffset = 0
        this.rx1Delay = 1
        this.rx2Dr = 0
        this.rx2Freq = 0
        this.maxDutyCycle = 0
        this.battery = 255
        this.snr = 0
        this.linkMargin = -1
        this.gwCnt = -1
        this.gpsSeconds = -1
        this.gpsFrac = -1
        this.queued = Buffer.alloc(0)
    }
}

function maskWords(r: Region): number {
    return (r.nbChannels + 15) >> 4
}

/**
 * The state after activation in region `r`: default channels (dynamic plans), or every channel
 * (`subBand` 0) or the 8 + 1 channels of sub-band 1..8 (fixed plans), default RX2.
 */
export function initMacState(r: Region, subBand: number): MacState {
    const st = new MacState()
    for (let w = 0; w < maskWords(r); w++) st.chMask.push(0)
    if (r.dynamic) {
        for (let i = 0; i < r.nbChannels; i++) {
            const def = i < r.defaultFreqs.length
            st.freqs.push(def ? r.defaultFreqs[i] : 0)
            st.drMin.push(0)
            st.drMax.push(def ? r.defaultMaxDr : 0)
            st.dlFreqs.push(0)
            if (def) st.chMask[i >> 4] |= 1 << (i & 15)
        }
    } else if (subBand === 0) {
        for (let i = 0; i < r.nbChannels; i++) st.chMask[i >> 4] |= 1 << (i & 15)
    } else {
        const first = 8 * (subBand - 1)
        for (let i = first; i < first + 8; i++) st.chMask[i >> 4] |= 1 << (i & 15)
        const c500 = r.first500 + subBand - 1
        st.chMask[c500 >> 4] |= 1 << (c500 & 15)
    }
    st.rx2Dr = r.rx2Dr
    st.rx2Freq = r.rx2Freq
    return st
}

/** Applies a join-accept's DLSettings and RxDelay (0 means 1 s). */
export function applyJoinSettings(st: MacState, dlSettings: number, rxDelay: number): void {
    st.rx1DrOffset = (dlSettings >> 4) & 7
    st.rx2Dr = dlSettings & 15
    const d = rxDelay & 15
    st.rx1Delay = d === 0 ? 1 : d
}

function freq24(b: Buffer, o: number): number {
    return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) * 100
}

/**
 * Applies a join-accept's CFList: type 0 adds channels 3..7 (a frequency of 0 leaves the slot
 * undefined), type 1 replaces the channel mask. Returns false (and changes nothing) when its
 * type is not the region's.
 */
export function applyCfList(r: Region, st: MacState, cf: Buffer): boolean {
    if (cf === null || cf.length !== 16 || cf[15] !== r.cfListType) return false
    if (r.cfListType === 0) {
        for (let k = 0; k < 5; k++) {
            const f = freq24(cf, 3 * k)
            const ch = r.defaultFreqs.length + k
            if (f === 0 || uplinkFreqOk(r, f) === false) continue
            st.freqs[ch] = f
            st.drMin[ch] = 0
            st.drMax[ch] = r.defaultMaxDr
            st.dlFreqs[ch] = 0
            st.chMask[ch >> 4] |= 1 << (ch & 15)
        }
        return true
    }
    for (let w = 0; w < maskWords(r); w++) st.chMask[w] = cf[2 * w] | (cf[2 * w + 1] << 8)
    return true
}

export function channelDefined(r: Region, st: MacState, ch: number): boolean {
    if (ch < 0 || ch >= r.nbChannels) return false
    return r.dynamic ? st.freqs[ch] !== 0 : true
}

export function channelEnabled(st: MacState, ch: number): boolean {
    return ((st.chMask[ch >> 4] >> (ch & 15)) & 1) === 1
}

/** The uplink frequency of channel `ch` (0: undefined). */
export function channelFreq(r: Region, st: MacState, ch: number): number {
    if (channelDefined(r, st, ch) === false) return 0
    if (r.dynamic) return st.freqs[ch]
    return ch < r.first500 ? r.base125 + ch * r.step125 : r.base500 + (ch - r.first500) * r.step500
}

/** The RX1 frequency after an uplink on channel `ch`. */
export function rx1Freq(r: Region, st: MacState, ch: number): number {
    if (r.rx1Count > 0) return r.rx1Base + (ch % r.rx1Count) * r.rx1Step
    const dl = st.dlFreqs[ch]
    return dl !== 0 ? dl : st.freqs[ch]
}

export function channelSupportsDr(r: Region, st: MacState, ch: number, dr: number): boolean {
    if (r.dynamic) return st.freqs[ch] !== 0 && dr >= st.drMin[ch] && dr <= st.drMax[ch]
    return ch < r.first500 ? dr <= r.dr125Max : dr === r.dr500
}

/** Whether a channel enabled in `mask` carries `dr` (any DR when negative). */
export function anyEnabled(r: Region, st: MacState, mask: number[], dr: number): boolean {
    for (let ch = 0; ch < r.nbChannels; ch++) {
        if (((mask[ch >> 4] >> (ch & 15)) & 1) === 0) continue
        if (dr < 0 || channelSupportsDr(r, st, ch, dr)) return true
    }
    return false
}

/** One LinkADRReq's ChMaskCntl and ChMask applied to `mask`; false when the request is not valid. */
function applyChMask(r: Region, st: MacState, mask: number[], cntl: number, chMask: number): boolean {
    if (r.dynamic) {
        if (cntl === 0) {
            for (let i = 0; i < 16; i++) if (((chMask >> i) & 1) === 1 && channelDefined(r, st, i) === false) return false
            mask[0] = chMask
            return true
        }
        if (cntl === 6) {
            let m = 0
            for (let i = 0; i < 16; i++) if (channelDefined(r, st, i)) m |= 1 << i
            mask[0] = m
            return true
        }
        return false
    }
    // fixed grid (US915 layout: 4 words of 125 kHz channels, 8 channels of 500 kHz in word 4)
    if (cntl <= 3) {
        mask[cntl] = chMask
        return true
    }
    if (cntl === 4) {
        if ((chMask & 0xff00) !== 0) return false // channels 72..79 do not exist
        mask[4] = chMask
        return true
    }
    if (cntl === 5) {
        // RP002: bit n enables the 8 channels of sub-band n+1 and 500 kHz channel 64+n; bits 8..15 RFU
        for (let n = 0; n < 8; n++) {
            const half = (n & 1) === 0 ? 0x00ff : 0xff00
            if (((chMask >> n) & 1) === 1) mask[n >> 1] |= half
            else mask[n >> 1] &= ~half & 0xffff
        }
        mask[4] = chMask & 0xff
        return true
    }
    if ((chMask & 0xff00) !== 0) return false
    for (let w = 0; w < 4; w++) mask[w] = cntl === 6 ? 0xffff : 0
    mask[4] = chMask
    return true
}

/** A block of `count` LinkADRReq at b[start..]: its status (bits 2..0: power, DR, mask). */
function linkAdrBlock(r: Region, st: MacState, b: Buffer, start: number, count: number): number {
    const mask: number[] = []
    for (let w = 0; w < st.chMask.length; w++) mask.push(st.chMask[w])
    let maskOk = true
    for (let k = 0; k < count; k++) {
        const o = start + 5 * k
        if (applyChMask(r, st, mask, (b[o + 4] >> 4) & 7, b[o + 2] | (b[o + 3] << 8)) === false) maskOk = false
    }
    if (maskOk && anyEnabled(r, st, mask, -1) === false) maskOk = false
    const last = start + 5 * (count - 1)
    let dr = b[last + 1] >> 4
    let pw = b[last + 1] & 15
    let nb = b[last + 4] & 15
    if (dr === 15 || st.adr === false) dr = st.dr
    if (pw === 15 || st.adr === false) pw = st.txPower
    if (st.adr === false) nb = st.nbTrans
    // the DR must suit an enabled channel of the new mask, or of the current one when the new mask is refused
    const drOk = dr <= r.maxUplinkDr && loraDr(r, dr) && anyEnabled(r, st, maskOk ? mask : st.chMask, dr)
    const pwOk = pw <= r.maxTxPowerIndex
    const status = (pwOk ? 4 : 0) | (drOk ? 2 : 0) | (maskOk ? 1 : 0)
    if (status === 7) {
        st.chMask = mask
        st.dr = dr
        st.txPower = pw
        st.nbTrans = nb === 0 ? 1 : nb
    }
    return status
}

function queue(st: MacState, cid: number, len: number, v0: number, v1: number): void {
    const q = Buffer.alloc(st.queued.length + 1 + len)
    q.blitAt(0, st.queued, 0, st.queued.length)
    const o = st.queued.length
    q[o] = cid
    if (len > 0) q[o + 1] = v0
    if (len > 1) q[o + 2] = v1
    st.queued = q
    st.fresh = true
}

/** Keeps the queued commands that satisfy `keepSticky` (true: only sticky ones; false: only others). */
function filterQueued(st: MacState, keepSticky: boolean): void {
    const q = st.queued
    const out = Buffer.alloc(q.length)
    let n = 0
    let i = 0
    while (i < q.length) {
        const cid = q[i]
        const len = cid < UP_LEN.length ? UP_LEN[cid] : -1
        if (len < 0) break
        if (isSticky(cid) === keepSticky) {
            out.blitAt(n, q, i, 1 + len)
            n += 1 + len
        }
        i += 1 + len
    }
    st.queued = out.slice(0, n)
}

/** Asks for a LinkCheckAns in the next uplink. */
export function requestLinkCheck(st: MacState): void {
    queue(st, CID_LINK_CHECK, 0, 0, 0)
}

/** Asks for the network time (DeviceTimeAns) in the next uplink. */
export function requestDeviceTime(st: MacState): void {
    queue(st, CID_DEVICE_TIME, 0, 0, 0)
}

/**
 * The MAC commands the next uplink carries (FOpts when they fit, else FPort 0). Call
 * `uplinkSent` once it is on air: the sticky answers stay queued, the rest is dropped.
 */
export function uplinkCommands(st: MacState): Buffer {
    return st.queued
}

export function uplinkSent(st: MacState): void {
    filterQueued(st, true)
    st.ackDown = false
    st.fresh = false
}

/**
 * Processes the MAC commands of a class A downlink that passed its MIC and counter checks
 * (`cmds`: its FOpts, or its FPort 0 payload; empty for a downlink without commands). A class A
 * downlink ends the repetition of sticky answers, so they are dropped first. Returns the number
 * of bytes parsed (less than `cmds.length` when parsing stopped at an unknown or cut command).
 */
export function processDownlinkCommands(r: Region, st: MacState, cmds: Buffer): number {
    filterQueued(st, false)
    const n = cmds.length
    let i = 0
    while (i < n) {
        const cid = cmds[i]
        const len = cid < DOWN_LEN.length ? DOWN_LEN[cid] : -1
        if (len < 0 || i + 1 + len > n) break
        const o = i
        i += 1 + len
        if (cid === CID_LINK_ADR) {
            let count = 1
            while (i < n && cmds[i] === CID_LINK_ADR && i + 5 <= n) {
                count++
                i += 5
            }
            const status = linkAdrBlock(r, st, cmds, o, count)
            for (let k = 0; k < count; k++) queue(st, CID_LINK_ADR, 1, status, 0)
        } else if (cid === CID_LINK_CHECK) {
            st.linkMargin = cmds[o + 1]
            st.gwCnt = cmds[o + 2]
        } else if (cid === CID_DEVICE_TIME) {
            st.gpsSeconds = cmds.getAt(o + 1, "u32")
            st.gpsFrac = cmds[o + 5]
        } else if (cid === CID_DUTY_CYCLE) {
            st.maxDutyCycle = cmds[o + 1] & 15
            queue(st, CID_DUTY_CYCLE, 0, 0, 0)
        } else if (cid === CID_RX_PARAM_SETUP) {
            const dl = cmds[o + 1]
            const off = (dl >> 4) & 7
            const dr2 = dl & 15
            const f = freq24(cmds, o + 2)
            const chOk = downlinkFreqOk(r, f)
            const drOk = dr2 >= r.minDownDr && dr2 <= r.maxDownDr && loraDr(r, dr2)
            const offOk = off <= r.maxRx1DrOffset
            const status = (offOk ? 4 : 0) | (drOk ? 2 : 0) | (chOk ? 1 : 0)
            if (status === 7) {
                st.rx1DrOffset = off
                st.rx2Dr = dr2
                st.rx2Freq = f
            }
            queue(st, CID_RX_PARAM_SETUP, 1, status, 0)
        } else if (cid === CID_DEV_STATUS) {
            let m = st.snr < -32 ? -32 : st.snr > 31 ? 31 : st.snr
            queue(st, CID_DEV_STATUS, 2, st.battery, m & 0x3f)
        } else if (cid === CID_NEW_CHANNEL) {
            if (r.dynamic) queue(st, CID_NEW_CHANNEL, 1, newChannel(r, st, cmds, o), 0)
        } else if (cid === CID_RX_TIMING_SETUP) {
            const d = cmds[o + 1] & 15
            st.rx1Delay = d === 0 ? 1 : d
            queue(st, CID_RX_TIMING_SETUP, 0, 0, 0)
        } else if (cid === CID_DL_CHANNEL) {
            if (r.dynamic) {
                const ch = cmds[o + 1]
                const f = freq24(cmds, o + 2)
                const freqOk = downlinkFreqOk(r, f)
                const upOk = channelDefined(r, st, ch)
                if (freqOk && upOk) st.dlFreqs[ch] = f
                queue(st, CID_DL_CHANNEL, 1, (upOk ? 2 : 0) | (freqOk ? 1 : 0), 0)
            }
        }
        // CID_TX_PARAM_SETUP: not used in EU868 or US915, read past without an answer
    }
    return i
}

/** The CIDs of the commands in the first `n` bytes of `cmds` (what processDownlinkCommands parsed), one hex byte each. */
export function commandCids(cmds: Buffer, n: number): string {
    let count = 0
    for (let i = 0; i < n; i += 1 + DOWN_LEN[cmds[i]]) count++
    const out = Buffer.alloc(count)
    let k = 0
    for (let i = 0; i < n; i += 1 + DOWN_LEN[cmds[i]]) out[k++] = cmds[i]
    return out.toString("hex")
}

/** NewChannelReq (dynamic plans): its status (bit 1 DR range, bit 0 frequency). */
function newChannel(r: Region, st: MacState, b: Buffer, o: number): number {
    const ch = b[o + 1]
    const f = freq24(b, o + 2)
    const max = b[o + 5] >> 4
    const min = b[o + 5] & 15
    // the default channels cannot be changed, and only nbChannels exist
    if (ch < r.defaultFreqs.length || ch >= r.nbChannels) return 0
    if (f === 0) {
        st.freqs[ch] = 0
        st.drMin[ch] = 0
        st.drMax[ch] = 0
        st.dlFreqs[ch] = 0
        st.chMask[ch >> 4] &= ~(1 << (ch & 15)) & 0xffff
        return 3
    }
    const freqOk = uplinkFreqOk(r, f)
    const drOk = min <= max && max <= r.maxUplinkDr
    if (freqOk && drOk) {
        st.freqs[ch] = f
        st.drMin[ch] = min
        st.drMax[ch] = max
        st.dlFreqs[ch] = 0
        st.chMask[ch >> 4] |= 1 << (ch & 15)
    }
    return (drOk ? 2 : 0) | (freqOk ? 1 : 0)
}

/** The duty-cycle band of channel `ch` (EU868), for the caller's time-off bookkeeping. */
export function channelBand(r: Region, st: MacState, ch: number): number {
    return bandOf(r, channelFreq(r, st, ch))
}

/** One class A receive window, relative to the end of the uplink's transmission. */
export class RxWindow {
    /** when to start listening (ms after TX end; the nominal delay minus the timing error) */
    openMs: number
    /** how long to listen for a preamble (ms) */
    windowMs: number
    freqHz: number
    dr: number
    sf: number
    bwHz: number
    constructor(openMs: number, windowMs: number, freqHz: number, dr: number, sf: number, bwHz: number) {
        this.openMs = openMs
        this.windowMs = windowMs
        this.freqHz = freqHz
        this.dr = dr
        this.sf = sf
        this.bwHz = bwHz
    }
}

/** LoRaWAN 1.0.4 section 3.3: a preamble must be seen for at least this many symbols to be detected. */
export const MIN_RX_SYMBOLS = 6
/** JOIN_ACCEPT_DELAY1 and RECEIVE_DELAY2 - RECEIVE_DELAY1 (1.0.4 / RP002 defaults) */
export const JOIN_ACCEPT_DELAY1_MS = 5000
export const RX2_AFTER_RX1_MS = 1000

function rxWindow(r: Region, nominalMs: number, freq: number, dr: number, errorMs: number): RxWindow {
    // the downlink's preamble starts within [nominal - error, nominal + error] of our clock: listen
    // from the earliest start until MIN_RX_SYMBOLS symbols after the latest one
    const tsym = ((1 << r.sf[dr]) / (r.bwKHz[dr] * 1000)) * 1000
    return new RxWindow(nominalMs - errorMs, 2 * errorMs + MIN_RX_SYMBOLS * tsym, freq, dr, r.sf[dr], r.bwKHz[dr] * 1000)
}

/**
 * RX1 and RX2 after an uplink on channel `ch` at `upDr` (class A, 1.0.4 section 3.3): RX1 after
 * RxDelay (JOIN_ACCEPT_DELAY1 for a join-request) on the region's RX1 frequency and DR, RX2 one
 * second later on the RX2 frequency and DR. `errorMs` is the worst timing error of the device's
 * clock and scheduling, by which each window opens early and stays longer.
 */
export function rxWindows(r: Region, st: MacState, ch: number, upDr: number, join: boolean, errorMs: number): RxWindow[] {
    const d1 = join ? JOIN_ACCEPT_DELAY1_MS : st.rx1Delay * 1000
    const w1 = rxWindow(r, d1, rx1Freq(r, st, ch), rx1Dr(r, upDr, join ? 0 : st.rx1DrOffset), errorMs)
    const w2 = rxWindow(r, d1 + RX2_AFTER_RX1_MS, st.rx2Freq, st.rx2Dr, errorMs)
    return [w1, w2]
}

/** LoRaWAN 1.0.4 section 4.3.1.1 defaults (RP002: ADR_ACK_LIMIT 64, ADR_ACK_DELAY 32 in EU868 and US915). */
export const ADR_ACK_LIMIT = 64
export const ADR_ACK_DELAY = 32

/**
 * An uplink (a new FCnt) is being built: counts it while ADR is on and says whether it sets
 * ADRACKReq (ADR_ACK_CNT >= ADR_ACK_LIMIT).
 */
export function adrCountUplink(st: MacState): boolean {
    if (st.adr === false) return false
    st.adrAckCnt++
    return st.adrAckCnt >= ADR_ACK_LIMIT
}

/**
 * After that uplink went: every ADR_ACK_DELAY uplinks past ADR_ACK_LIMIT + ADR_ACK_DELAY
 * without a downlink, one back-off step (1.0.4 section 4.3.1.1): TX power back to the default
 * (index 0), else the next lower data rate, else (at the lowest) every default channel enabled again.
 */
export function adrBackOff(r: Region, st: MacState): void {
    if (st.adr === false) return
    const past = st.adrAckCnt - ADR_ACK_LIMIT
    if (past < ADR_ACK_DELAY || past % ADR_ACK_DELAY !== 0) return
    if (st.txPower !== 0) st.txPower = 0
    else if (st.dr > 0) st.dr--
    else {
        const def = initMacState(r, 0)
        for (let w = 0; w < st.chMask.length; w++) st.chMask[w] |= def.chMask[w]
    }
}

/** A downlink was accepted: the network is heard again. */
export function adrDownlinkHeard(st: MacState): void {
    st.adrAckCnt = 0
}
