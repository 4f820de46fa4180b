// The LoRaWAN counters a power cut must not roll back, kept in settings next to `sceau_state`
// (src/state.ts) and with the same rule: a value is stored (written and read back) before the
// first use of anything it covers, so a power cut can skip values but never repeat one.
//
//   setting "sceau_lorawan" = [devNonceNext, lastJoinNonce, fCntUpLimit, joinElapsedMs, joinOffMs,
//                              downTag, fCntDownLast, timeOffMs, macSettings]
//     devNonceNext   the next DevNonce (1.0.4: a counter from 0, never reused for this JoinEUI/AppKey);
//                    written as n + 1 before join-request n goes on air
//     lastJoinNonce  the JoinNonce of the last accepted join-accept (-1: none); a join-accept must
//                    carry a greater one (1.0.4 section 6.2.3), stored before the session is used
//     fCntUpLimit    every FCnt up below it may have been used in the current session; reserved
//                    ahead by LORAWAN_FCNT_BLOCK (a join starts a session at 0 with limit = block)
//     joinElapsedMs  the join back-off's clock (src/lorawan-backoff.ts): a lower bound of the time
//                    spent joining since the first join-request of this activation (0 when joined)
//     joinOffMs      the silence owed after the last join-request (its back-off time-off); a boot
//                    waits all of it before a join-request, so a reboot loop cannot join faster
//     downTag        the ABP session the next value belongs to (src/lorawan-credentials.ts
//                    `abpTag`: 8 hex digits of a hash of the ABP setting; "" for none)
//     fCntDownLast   ABP: the last accepted 32-bit FCnt down of that session (-1: none), written
//                    when a downlink is accepted, before anything it asks for goes up, so an old
//                    downlink replayed after a reboot is refused. (OTAA joins again at every boot:
//                    new session keys, under which an old downlink fails its MIC; not stored.)
//     timeOffMs      the duty-cycle silence a boot waits before a data uplink, per band of the
//                    region and then DutyCycleReq's aggregate (src/lorawan-timeoff.ts), stored
//                    with every write of this setting and, when a frame needs more, before it goes
//     macSettings    ABP: the MAC settings the network set in that session (src/lorawan-macstore.ts,
//                    hex; "" for none), written with fCntDownLast when a downlink is accepted (no
//                    write of its own) and restored at boot for that session only
//   (An array of 3 is read as one with both back-off values 0, an array of 5 as one without a
//   stored FCnt down and time-off, an array of 8 as one without MAC settings: the earlier layouts.)
//
//   setting "sceau_lwreset" = a token written by `sceau provision --reset-lorawan` (the device was
//                           re-created on the network server, whose JoinNonce starts again)
//   setting "sceau_lwdone"  = the last token applied
// A boot that finds a new token forgets the last JoinNonce, the FCnt up reservation, the stored
// FCnt down and MAC settings and the back-off (DevNonce keeps counting: never reused; the radio's time-off stays),
// stores that, then records the token; a cut in between applies it again, with the same result.
// Deploying the same settings again is no reset.
//
// One JSON array, one write: a join stores its JoinNonce and the new session's first FCnt block
// together, so no cut can leave an accepted JoinNonce with the old session's counter.
import { LORAWAN_FCNT_BLOCK } from "./config"
import { readSettingTimed, writeSettingTimed } from "./state"
import { FCNT_MAX, joinNonceOk } from "./lorawan-counters"

export const LORAWAN_SETTING = "sceau_lorawan"
export const RESET_SETTING = "sceau_lwreset"
export const RESET_DONE_SETTING = "sceau_lwdone"
export const DEV_NONCE_MAX = 65535

function isInt(v: any): boolean {
    return typeof v === "number" && v === Math.floor(v)
}

/** A stored time-off array for `slots` values: as stored when the length fits, else its largest value everywhere (a region change); absent: none owed. */
function timeOffOf(v: any, slots: number): number[] {
    const out: number[] = []
    let most = 0
    const ok = Array.isArray(v)
    if (ok) for (let i = 0; i < v.length; i++) if (isInt(v[i]) && v[i] > most) most = v[i]
    for (let i = 0; i < slots; i++) {
        if (ok && v.length === slots && isInt(v[i])) out.push(v[i] < 0 ? 0 : v[i])
        else out.push(most)
    }
    return out
}

export class LorawanCounters {
    devNonceNext: number
    lastJoinNonce: number
    /** the next FCnt up, and the reservation limit (read-only outside this class) */
    fCntNext: number
    fCntLimit: number
    /** the join back-off (see the header); stored with the next DevNonce */
    joinElapsedMs: number
    joinOffMs: number
    /** ABP: the stored FCnt down and MAC settings, and the session they belong to (read-only outside this class) */
    downTag: string
    fCntDownLast: number
    macSettings: string
    /** the time-off as stored (read-only outside this class) */
    timeOffMs: number[]
    /** what a write stores as time-off: set by the MAC just before a call that may write, for that call only (null: the stored values again) */
    timeOffNext: number[]
    constructor() {
        this.joinElapsedMs = 0
        this.joinOffMs = 0
        this.devNonceNext = 0
        this.lastJoinNonce = -1
        this.fCntNext = 0
        this.fCntLimit = 0
        this.downTag = ""
        this.fCntDownLast = -1
        this.macSettings = ""
        this.timeOffMs = []
        this.timeOffNext = null
    }

    /** Reads the stored counters (absent or malformed: a new device). Does not write, but for a new reset token. */
    async load(): Promise<void> {
        const st = await readSettingTimed(LORAWAN_SETTING)
        const n = Array.isArray(st) ? st.length : 0
        if ((n === 3 || n === 5 || n === 8 || n === 9) && isInt(st[0]) && isInt(st[1]) && isInt(st[2])) {
            this.devNonceNext = st[0] < 0 ? 0 : st[0]
            this.lastJoinNonce = st[1]
            this.fCntLimit = st[2] < 0 ? 0 : st[2]
            if (n >= 5 && isInt(st[3]) && isInt(st[4])) {
                this.joinElapsedMs = st[3] < 0 ? 0 : st[3]
                this.joinOffMs = st[4] < 0 ? 0 : st[4]
            }
            if (n >= 8) {
                if (typeof st[5] === "string" && isInt(st[6])) {
                    this.downTag = st[5]
                    this.fCntDownLast = st[6] < -1 ? -1 : st[6]
                    if (n === 9 && typeof st[8] === "string") this.macSettings = st[8]
                }
                this.timeOffMs = timeOffOf(st[7], Array.isArray(st[7]) ? st[7].length : 0)
            }
        }
        const token = await readSettingTimed(RESET_SETTING)
        if (typeof token === "string" && token !== (await readSettingTimed(RESET_DONE_SETTING))) {
            this.joinElapsedMs = 0
            this.joinOffMs = 0
            this.downTag = ""
            this.fCntDownLast = -1
            this.macSettings = ""
            await this.store(this.devNonceNext, -1, 0)
            await writeSettingTimed(RESET_DONE_SETTING, token)
            console.log(`sceau-lorawan reset token=${token} devnonce=${this.devNonceNext}`)
        }
        // a session resumed after a reboot (ABP) continues above everything that may have been used
        this.fCntNext = this.fCntLimit
    }

    private async store(devNonceNext: number, lastJoinNonce: number, fCntLimit: number): Promise<void> {
        const off = this.timeOffNext !== null ? this.timeOffNext : this.timeOffMs
        await writeSettingTimed(LORAWAN_SETTING, [devNonceNext, lastJoinNonce, fCntLimit, this.joinElapsedMs, this.joinOffMs, this.downTag, this.fCntDownLast, off, this.macSettings])
        this.devNonceNext = devNonceNext
        this.lastJoinNonce = lastJoinNonce
        this.fCntLimit = fCntLimit
        this.timeOffMs = off
        this.timeOffNext = null
    }

    /**
     * The DevNonce of the next join-request, stored as used before it is returned, together with
     * the back-off values the caller set in `joinElapsedMs` and `joinOffMs` for that request.
     * Throws when all 65,536 are used.
     */
    async takeDevNonce(): Promise<number> {
        const n = this.devNonceNext
        if (n > DEV_NONCE_MAX) throw new Error("lorawan: DevNonce exhausted (re-key the device)")
        await this.store(n + 1, this.lastJoinNonce, this.fCntLimit)
        return n
    }

    /**
     * A join-accept that passed its MIC check: refused (false, nothing stored) when its JoinNonce
     * is not above the last accepted one; else the JoinNonce and the new session's first FCnt
     * block are stored, and FCnt up restarts at 0.
     */
    async acceptJoin(joinNonce: number): Promise<boolean> {
        if (joinNonceOk(this.lastJoinNonce, joinNonce) === false) {
            this.timeOffNext = null
            return false
        }
        // joined: the back-off starts again from its first hour at the next activation
        this.joinElapsedMs = 0
        this.joinOffMs = 0
        await this.store(this.devNonceNext, joinNonce, LORAWAN_FCNT_BLOCK)
        this.fCntNext = 0
        return true
    }

    /** The next FCnt up of the session, reserved ahead in settings (throws when the 32-bit space is used up). */
    async takeFCntUp(): Promise<number> {
        const c = this.fCntNext
        if (c > FCNT_MAX) throw new Error("lorawan: FCnt up exhausted (rejoin)")
        if (c >= this.fCntLimit) {
            let limit = c + LORAWAN_FCNT_BLOCK
            if (limit > FCNT_MAX + 1) limit = FCNT_MAX + 1
            await this.store(this.devNonceNext, this.lastJoinNonce, limit)
        }
        this.timeOffNext = null
        this.fCntNext = c + 1
        return c
    }

    /** The stored FCnt down of the ABP session `tag`, -1 when none (another session's does not count). */
    fCntDownOf(tag: string): number {
        return tag === this.downTag ? this.fCntDownLast : -1
    }

    /** The stored MAC settings of the ABP session `tag`, "" when none (another session's do not count). */
    macSettingsOf(tag: string): string {
        return tag === this.downTag ? this.macSettings : ""
    }

    /** ABP: stores `last` as the last accepted FCnt down of the session `tag`, and its MAC settings `mac` (one write). */
    async storeFCntDown(tag: string, last: number, mac: string): Promise<void> {
        this.downTag = tag
        this.fCntDownLast = last
        this.macSettings = mac
        await this.store(this.devNonceNext, this.lastJoinNonce, this.fCntLimit)
    }

    /** Sizes the stored time-off for a region of `slots` values (src/lorawan-timeoff.ts); a stored array of another size counts its largest value everywhere. */
    fitTimeOff(slots: number): void {
        if (this.timeOffMs.length !== slots) this.timeOffMs = timeOffOf(this.timeOffMs, slots)
    }

    /** Stores the time-off in `timeOffNext` alone (a frame needs more than is stored). */
    async storeTimeOff(): Promise<void> {
        await this.store(this.devNonceNext, this.lastJoinNonce, this.fCntLimit)
    }
}
