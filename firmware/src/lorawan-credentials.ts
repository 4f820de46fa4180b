// LoRaWAN credentials in the device's settings, written by `sceau provision --lorawan FILE`
// (into the firmware's .env.local, deployed as secrets the Jacdac bus cannot read):
//   sceau_otaa = "<DevEUI>:<JoinEUI>:<AppKey>"              16, 16 and 32 hex digits
//   sceau_abp  = "<DevEUI>:<DevAddr>:<NwkSKey>:<AppSKey>"   16, 8, 32 and 32 hex digits
// EUIs and DevAddr in the usual display order (big-endian). OTAA wins when both are present.
// An empty DevEUI field (`sceau_otaa=":<JoinEUI>:<AppKey>"`) means the board's own DevEUI,
// `boardDevEui()`, which a board also announces when it has no credentials at all (the key line's
// `deveui=`), so it can be registered on the network server before it has keys.
import * as ds from "@devicescript/core"
import { readSettingTimed } from "./state"
import { cmacKey } from "./cmac"
import { LorawanSession } from "./lorawan-frames"
import { OtaaKeys } from "./lorawan-join"
import { sha256 } from "./sha256"

export const OTAA_SETTING = "sceau_otaa"
export const ABP_SETTING = "sceau_abp"

export class LorawanCredentials {
    /** 16 lower-case hex digits */
    devEui: string
    /** OTAA root key material, or null */
    otaa: OtaaKeys
    /** an ABP session, or null */
    abp: LorawanSession
    /** ABP: 8 hex digits of SHA-256 of the session's fields, naming it in the stored FCnt down (new keys: a new count) */
    abpTag: string
    /** "" when usable, else what is wrong (printed on the console, never the values) */
    problem: string
    constructor() {
        this.devEui = ""
        this.otaa = null
        this.abp = null
        this.abpTag = ""
        this.problem = ""
    }
}

/**
 * The board's own DevEUI: DeviceScript's 64-bit device identifier (`ds.deviceIdentifier("self")`)
 * with the EUI-64 U/L bit set and the group bit cleared in its first byte (`& 0xfc | 0x02`), a
 * locally administered unicast EUI-64 that cannot equal an IEEE-assigned one from a maker's block.
 */
export function boardDevEui(): string {
    const id = Buffer.from(ds.deviceIdentifier("self"), "hex")
    if (id.length !== 8) throw new Error(`lorawan: device identifier of ${id.length} bytes`)
    id[0] = (id[0] & 0xfc) | 0x02
    return id.toString("hex")
}

/** A credentials value whose DevEUI field is empty gets the board's own. */
function withBoardEui(v: any): any {
    if (typeof v === "string" && (v as string).length > 0 && (v as string).charCodeAt(0) === 58) return boardDevEui() + (v as string)
    return v
}

function isHex(s: string, n: number): boolean {
    if (s.length !== n) return false
    for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false
    }
    return true
}

/** The fields of a setting value, when it is a string of `lens.length` hex fields of those lengths; else null. */
export function hexFields(v: any, lens: number[]): string[] {
    if (typeof v !== "string") return null
    const parts = (v as string).split(":")
    if (parts.length !== lens.length) return null
    const out: string[] = []
    for (let i = 0; i < lens.length; i++) {
        if (isHex(parts[i], lens[i]) === false) return null
        out.push(parts[i].toLowerCase())
    }
    return out
}

/** Reads the credentials from settings; `problem` says why there are none usable. */
export async function loadLorawanCredentials(): Promise<LorawanCredentials> {
    const c = new LorawanCredentials()
    const o = withBoardEui(await readSettingTimed(OTAA_SETTING))
    const a = withBoardEui(await readSettingTimed(ABP_SETTING))
    const of = hexFields(o, [16, 16, 32])
    if (of !== null) {
        c.devEui = of[0]
        c.otaa = new OtaaKeys(cmacKey(Buffer.from(of[2], "hex")), Buffer.from(of[1], "hex"), Buffer.from(of[0], "hex"))
        return c
    }
    const af = hexFields(a, [16, 8, 32, 32])
    if (af !== null) {
        c.devEui = af[0]
        c.abp = new LorawanSession(Buffer.from(af[1], "hex"), Buffer.from(af[2], "hex"), Buffer.from(af[3], "hex"))
        c.abpTag = (await sha256(Buffer.from(af.join(":")))).slice(0, 4).toString("hex")
        return c
    }
    // no usable credentials: the key line still shows the DevEUI the board would join with
    c.devEui = boardDevEui()
    const present = (v: any) => v !== undefined && v !== null
    if (present(o)) c.problem = `malformed ${OTAA_SETTING}`
    else if (present(a)) c.problem = `malformed ${ABP_SETTING}`
    else c.problem = `no credentials (${OTAA_SETTING} or ${ABP_SETTING}): run sceau provision --lorawan`
    return c
}
