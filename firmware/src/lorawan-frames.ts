// LoRaWAN 1.0.x frame coding for a class A end device (LoRaWAN L2 1.0.4, sections 4 and 6):
// the join-request and its MIC, the join-accept (decrypted, MIC checked, CFList read), the 1.0.x
// session keys, and data frames up and down (FRMPayload encryption, FOpts, MIC over a 32-bit FCnt).
//
// Multi-byte fields are little-endian on air. This module's API takes and gives EUIs and DevAddr
// as Buffers in the order network servers display them (big-endian) and reverses them on the wire.
// JoinNonce, NetID, DevNonce and FCnt are numbers (FCnt up to 2^32 - 1: only >>> and & touch it).
import { AesKey, aesEncryptBlock, aesEncryptWords, aesExpandKey, storeWords } from "./aes"
import { CmacKey, cmacKey, cmacWords } from "./cmac"

export const MTYPE_JOIN_REQUEST = 0x00
export const MTYPE_JOIN_ACCEPT = 0x20
export const MTYPE_UNCONFIRMED_UP = 0x40
export const MTYPE_UNCONFIRMED_DOWN = 0x60
export const MTYPE_CONFIRMED_UP = 0x80
export const MTYPE_CONFIRMED_DOWN = 0xa0
export const MAX_FOPTS = 15

/** Why a received frame was refused (the frame is then dropped, as the specification says). */
export type FrameError = "" | "length" | "mtype" | "dev-addr" | "fcnt" | "mic" | "fopts" | "fcnt-gap"

function reversed(b: Buffer): Buffer {
    const n = b.length
    const r = Buffer.alloc(n)
    for (let i = 0; i < n; i++) r[i] = b[n - 1 - i]
    return r
}

function putLe(b: Buffer, off: number, v: number, n: number): void {
    for (let i = 0; i < n; i++) b[off + i] = (v >>> (8 * i)) & 255
}

function getLe(b: Buffer, off: number, n: number): number {
    let v = 0
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[off + i]
    return v
}

/** DevAddr (display order) as its little-endian wire word. */
function devAddrWord(devAddr: Buffer): number {
    return devAddr[3] | (devAddr[2] << 8) | (devAddr[1] << 16) | (devAddr[0] << 24)
}

// ---- join ----------------------------------------------------------------------------------

/** MHDR ‖ JoinEUI ‖ DevEUI ‖ DevNonce ‖ MIC (section 6.2.4). */
export const JOIN_REQUEST_BYTES = 23

export function encodeJoinRequest(appKey: CmacKey, joinEui: Buffer, devEui: Buffer, devNonce: number): Buffer {
    if (joinEui.length !== 8 || devEui.length !== 8) throw new RangeError("join-request: EUIs are 8 bytes")
    const phy = Buffer.alloc(JOIN_REQUEST_BYTES)
    phy[0] = MTYPE_JOIN_REQUEST
    phy.blitAt(1, reversed(joinEui), 0, 8)
    phy.blitAt(9, reversed(devEui), 0, 8)
    putLe(phy, 17, devNonce, 2)
    const s = [0, 0, 0, 0]
    cmacWords(appKey, null, phy, 0, 19, s)
    phy.setAt(19, "i32", s[0])
    return phy
}

export class JoinAccept {
    ok: boolean
    error: FrameError
    joinNonce: number
    netId: number
    /** display order */
    devAddr: Buffer
    /** RX1DRoffset in bits 6..4, RX2 data rate in bits 3..0 */
    dlSettings: number
    /** RX1 delay in seconds, 0 meaning 1 */
    rxDelay: number
    /** 16 bytes, or null when absent */
    cfList: Buffer
    constructor(error: FrameError) {
        this.ok = error === ""
        this.error = error
        this.joinNonce = 0
        this.netId = 0
        this.devAddr = null
        this.dlSettings = 0
        this.rxDelay = 0
        this.cfList = null
    }
}

/**
 * Opens a join-accept (section 6.2.6): AES-*encrypts* the bytes after MHDR (the network server
 * encrypted them with AES decrypt) and checks the 1.0.x MIC over MHDR ‖ JoinNonce ‖ NetID ‖
 * DevAddr ‖ DLSettings ‖ RxDelay ‖ CFList. Untrusted input: never throws, returns an error code.
 */
export function openJoinAccept(appKey: CmacKey, phy: Buffer): JoinAccept {
    const n = phy.length
    if (n !== 17 && n !== 33) return new JoinAccept("length")
    if (phy[0] !== MTYPE_JOIN_ACCEPT) return new JoinAccept("mtype")
    const plain = Buffer.alloc(n)
    plain[0] = phy[0]
    const s = [0, 0, 0, 0]
    for (let o = 1; o < n; o += 16) aesEncryptBlock(appKey.aes, phy, o, plain, o)
    cmacWords(appKey, null, plain, 0, n - 4, s)
    if (s[0] !== plain.getAt(n - 4, "i32")) return new JoinAccept("mic")
    const r = new JoinAccept("")
    r.joinNonce = getLe(plain, 1, 3)
    r.netId = getLe(plain, 4, 3)
    r.devAddr = reversed(plain.slice(7, 11))
    r.dlSettings = plain[11]
    r.rxDelay = plain[12]
    r.cfList = n === 33 ? plain.slice(13, 29) : null
    return r
}

/**
 * The 1.0.x session keys (section 6.2.5): AES(AppKey, type ‖ JoinNonce ‖ NetID ‖ DevNonce ‖ pad16)
 * with type 0x01 for NwkSKey and 0x02 for AppSKey. Returns [NwkSKey, AppSKey].
 */
export function deriveSessionKeys10(appKey: AesKey, joinNonce: number, netId: number, devNonce: number): Buffer[] {
    const out: Buffer[] = []
    for (let type = 1; type <= 2; type++) {
        const b = Buffer.alloc(16)
        b[0] = type
        putLe(b, 1, joinNonce, 3)
        putLe(b, 4, netId, 3)
        putLe(b, 7, devNonce, 2)
        aesEncryptBlock(appKey, b, 0, b, 0)
        out.push(b)
    }
    return out
}

// ---- data frames ---------------------------------------------------------------------------

/** The keys and address of an activated device (OTAA after a join, or ABP). */
export class LorawanSession {
    /** display order */
    devAddr: Buffer
    /** NwkSKey: the MIC (CMAC) and FPort 0 payloads (AES) */
    nwk: CmacKey
    /** AppSKey: FRMPayload on FPort 1..255 */
    app: AesKey
    constructor(devAddr: Buffer, nwkSKey: Buffer, appSKey: Buffer) {
        if (devAddr.length !== 4) throw new RangeError("DevAddr: expected 4 bytes")
        if (nwkSKey.length !== 16 || appSKey.length !== 16) throw new RangeError("session keys: expected 16 bytes")
        this.devAddr = devAddr
        this.nwk = cmacKey(nwkSKey)
        this.app = aesExpandKey(appSKey)
    }
}

/**
 * Encrypts (or decrypts: the same operation) data[off, off + len) in place with the keystream
 * AES(K, A_i), A_i = 0x01 ‖ 0x00^4 ‖ Dir ‖ DevAddr ‖ FCnt32 ‖ 0x00 ‖ i (section 4.3.3).
 */
export function cryptFrmPayload(key: AesKey, dir: number, devAddr: Buffer, fCnt: number, data: Buffer, off: number, len: number): void {
    const addr = devAddrWord(devAddr)
    const s = [0, 0, 0, 0]
    let i = 1
    for (let o = 0; o < len; o += 16) {
        // A_i as column words (little-endian): bytes 0..3, 4..7, 8..11, 12..15
        s[0] = 0x01
        s[1] = (dir << 8) | ((addr & 0xffff) << 16)
        s[2] = (addr >>> 16) | ((fCnt & 0xffff) << 16)
        s[3] = ((fCnt >>> 16) & 0xffff) | (i << 24)
        aesEncryptWords(key, s)
        const n = len - o < 16 ? len - o : 16
        const p = off + o
        if (n === 16) {
            data.setAt(p, "i32", data.getAt(p, "i32") ^ s[0])
            data.setAt(p + 4, "i32", data.getAt(p + 4, "i32") ^ s[1])
            data.setAt(p + 8, "i32", data.getAt(p + 8, "i32") ^ s[2])
            data.setAt(p + 12, "i32", data.getAt(p + 12, "i32") ^ s[3])
        } else {
            for (let j = 0; j < n; j++) data[p + j] = data[p + j] ^ ((s[j >> 2] >>> (8 * (j & 3))) & 255)
        }
        i++
    }
}

/** The MIC of a data frame: CMAC(NwkSKey, B0 ‖ msg[0, len))[0..4) as a word (section 4.4). */
export function dataMic(nwk: CmacKey, dir: number, devAddr: Buffer, fCnt: number, msg: Buffer, len: number): number {
    const addr = devAddrWord(devAddr)
    const b0 = Buffer.alloc(16)
    const w = [0x49, (dir << 8) | ((addr & 0xffff) << 16), (addr >>> 16) | ((fCnt & 0xffff) << 16), ((fCnt >>> 16) & 0xffff) | (len << 24)]
    storeWords(w, b0, 0)
    cmacWords(nwk, b0, msg, 0, len, w)
    return w[0]
}

/** What an uplink carries besides the session. */
export class Uplink {
    confirmed: boolean
    adr: boolean
    adrAckReq: boolean
    ack: boolean
    /** 32 bits; the low 16 go on air */
    fCnt: number
    /** MAC commands in FOpts (0..15 bytes), or null */
    fOpts: Buffer
    /** 0..255, or -1 for a frame without FPort (and without payload) */
    fPort: number
    payload: Buffer
    constructor(fCnt: number, fPort: number, payload: Buffer) {
        this.confirmed = false
        this.adr = false
        this.adrAckReq = false
        this.ack = false
        this.fCnt = fCnt
        this.fOpts = null
        this.fPort = fPort
        this.payload = payload
    }
}

/**
 * MHDR ‖ DevAddr ‖ FCtrl ‖ FCnt ‖ FOpts ‖ FPort ‖ FRMPayload ‖ MIC. Throws RangeError on what the
 * specification forbids (FOpts over 15 bytes, FOpts with FPort 0, a payload without FPort).
 */
export function encodeUplink(s: LorawanSession, up: Uplink): Buffer {
    const fOptsLen = up.fOpts === null ? 0 : up.fOpts.length
    const payloadLen = up.payload === null ? 0 : up.payload.length
    if (fOptsLen > MAX_FOPTS) throw new RangeError("uplink: FOpts over 15 bytes")
    if (up.fPort === 0 && fOptsLen > 0) throw new RangeError("uplink: MAC commands in FOpts and on FPort 0")
    if (up.fPort < 0 && payloadLen > 0) throw new RangeError("uplink: a payload needs an FPort")
    if (up.fPort > 255) throw new RangeError("uplink: FPort over 255")
    const hasPort = up.fPort >= 0
    const msgLen = 8 + fOptsLen + (hasPort ? 1 : 0) + payloadLen
    const phy = Buffer.alloc(msgLen + 4)
    phy[0] = up.confirmed ? MTYPE_CONFIRMED_UP : MTYPE_UNCONFIRMED_UP
    phy.setAt(1, "i32", devAddrWord(s.devAddr))
    phy[5] = (up.adr ? 0x80 : 0) | (up.adrAckReq ? 0x40 : 0) | (up.ack ? 0x20 : 0) | fOptsLen
    putLe(phy, 6, up.fCnt, 2)
    if (fOptsLen > 0) phy.blitAt(8, up.fOpts, 0, fOptsLen)
    let o = 8 + fOptsLen
    if (hasPort) {
        phy[o++] = up.fPort
        if (payloadLen > 0) {
            phy.blitAt(o, up.payload, 0, payloadLen)
            cryptFrmPayload(up.fPort === 0 ? s.nwk.aes : s.app, 0, s.devAddr, up.fCnt, phy, o, payloadLen)
        }
    }
    phy.setAt(msgLen, "i32", dataMic(s.nwk, 0, s.devAddr, up.fCnt, phy, msgLen))
    return phy
}

export class Downlink {
    ok: boolean
    error: FrameError
    confirmed: boolean
    adr: boolean
    ack: boolean
    fPending: boolean
    /** the 16 bits on air */
    fCnt16: number
    /** FOpts (possibly empty) */
    fOpts: Buffer
    /** -1 when the frame has no FPort */
    fPort: number
    /** decrypted FRMPayload (empty without FPort) */
    payload: Buffer
    constructor(error: FrameError) {
        this.ok = error === ""
        this.error = error
        this.confirmed = false
        this.adr = false
        this.ack = false
        this.fPending = false
        this.fCnt16 = 0
        this.fOpts = null
        this.fPort = -1
        this.payload = null
    }
}

/** The 16-bit FCnt of a downlink addressed to `devAddr`, or -1 when it is not a data downlink for it. */
export function peekDownlinkFCnt(devAddr: Buffer, phy: Buffer): number {
    if (phy.length < 12) return -1
    if (phy[0] !== MTYPE_UNCONFIRMED_DOWN && phy[0] !== MTYPE_CONFIRMED_DOWN) return -1
    if (phy.getAt(1, "i32") !== devAddrWord(devAddr)) return -1
    return getLe(phy, 6, 2)
}

/**
 * Opens a data downlink whose full 32-bit counter is `fCntDown` (rebuilt by the MAC from the 16
 * bits on air): checks the address, the counter's low bits and the MIC, then decrypts. Untrusted
 * input: never throws, returns an error code.
 */
export function openDownlink(s: LorawanSession, fCntDown: number, phy: Buffer): Downlink {
    const n = phy.length
    if (n < 12) return new Downlink("length")
    const mhdr = phy[0]
    if (mhdr !== MTYPE_UNCONFIRMED_DOWN && mhdr !== MTYPE_CONFIRMED_DOWN) return new Downlink("mtype")
    if (phy.getAt(1, "i32") !== devAddrWord(s.devAddr)) return new Downlink("dev-addr")
    const fCtrl = phy[5]
    const fOptsLen = fCtrl & 15
    const msgLen = n - 4
    if (8 + fOptsLen > msgLen) return new Downlink("length")
    const fCnt16 = getLe(phy, 6, 2)
    if (fCnt16 !== (fCntDown & 0xffff)) return new Downlink("fcnt")
    if (dataMic(s.nwk, 1, s.devAddr, fCntDown, phy, msgLen) !== phy.getAt(msgLen, "i32")) return new Downlink("mic")
    const hasPort = msgLen > 8 + fOptsLen
    if (hasPort && phy[8 + fOptsLen] === 0 && fOptsLen > 0) return new Downlink("fopts")
    const r = new Downlink("")
    r.confirmed = mhdr === MTYPE_CONFIRMED_DOWN
    r.adr = (fCtrl & 0x80) !== 0
    r.ack = (fCtrl & 0x20) !== 0
    r.fPending = (fCtrl & 0x10) !== 0
    r.fCnt16 = fCnt16
    r.fOpts = phy.slice(8, 8 + fOptsLen)
    if (hasPort) {
        r.fPort = phy[8 + fOptsLen]
        const start = 9 + fOptsLen
        const payload = phy.slice(start, msgLen)
        if (payload.length > 0) cryptFrmPayload(r.fPort === 0 ? s.nwk.aes : s.app, 1, s.devAddr, fCntDown, payload, 0, payload.length)
        r.payload = payload
    } else r.payload = Buffer.alloc(0)
    return r
}
