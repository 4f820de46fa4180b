// Persistent device state in DeviceScript settings (flash): the Ed25519 seed and the frame
// counter, reserved ahead in blocks (design: "Replay protection", device side).
//
//   setting "sceau_seed"  = the 32-byte seed as 64 hex characters (written at provisioning, or
//                           generated from the hardware RNG on first boot)
//   setting "sceau_ckey"  = the content key of record version 2 as 64 hex characters (written at
//                           provisioning only; absent: the device seals version 1)
//   setting "sceau_state" = [limit, boots]: every counter below `limit` may have been used;
//                           `boots` counts resets (the value of the boot reading, channel 32)
//
// On boot, counting resumes at `limit` and a new limit `limit + COUNTER_BLOCK` is written and
// read back before any counter of the new block is used; so a power cut at any point skips
// counters but never repeats one, at one settings write per block.
import * as ds from "@devicescript/core"
import { readSetting, writeSetting } from "@devicescript/settings"
import { randomBuffer } from "@devicescript/crypto"
import { COUNTER_BLOCK, SETTINGS_TIMEOUT_MS } from "./config"

export const SEED_SETTING = "sceau_seed"
export const STATE_SETTING = "sceau_state"
/** The 32-byte content key as 64 hex characters, written at provisioning (docs/privacy.md); absent: record version 1. (Setting keys are at most 13 characters.) */
export const CONTENT_KEY_SETTING = "sceau_ckey"
/** Counters are uint32 and never 0 (design: record). */
export const COUNTER_MAX = 4294967295

async function waitFlag(flag: boolean[], what: string): Promise<void> {
    const t0 = ds.millis()
    while (!flag[0]) {
        if (ds.millis() - t0 > SETTINGS_TIMEOUT_MS) throw new Error(`settings: ${what}: no answer in ${SETTINGS_TIMEOUT_MS} ms`)
        await ds.sleep(10)
    }
}

/** readSetting with a timeout (the settings role may never bind). */
export async function readSettingTimed(key: string): Promise<any> {
    const done = [false]
    const box: any[] = [undefined]
    setTimeout(async () => {
        box[0] = await readSetting(key, null)
        done[0] = true
    }, 0)
    await waitFlag(done, `read ${key}`)
    return box[0]
}

/** writeSetting with a timeout, then read back: returns only once the value is stored. */
export async function writeSettingTimed(key: string, value: any): Promise<void> {
    const done = [false]
    setTimeout(async () => {
        await writeSetting(key, value)
        done[0] = true
    }, 0)
    await waitFlag(done, `write ${key}`)
    const back = await readSettingTimed(key)
    if (JSON.stringify(back) !== JSON.stringify(value)) throw new Error(`settings: ${key} did not persist`)
}

function isHex64(s: any): boolean {
    if (typeof s !== "string" || s.length !== 64) return false
    for (let i = 0; i < 64; i++) {
        const c = s.charCodeAt(i)
        if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false
    }
    return true
}

export interface SeedInfo {
    seed: Buffer
    generated: boolean
}

/** The provisioned content key, or null (the device then seals record version 1). Never generated here: only the owner's provisioning makes one. */
export async function loadContentKey(): Promise<Buffer> {
    const s = await readSettingTimed(CONTENT_KEY_SETTING)
    if (s === null || s === undefined) return null
    if (!isHex64(s)) throw new Error(`settings: ${CONTENT_KEY_SETTING} is not 64 hex characters`)
    return Buffer.from(s, "hex")
}

/** The stored seed, or a new one from the hardware RNG, stored before it is used. */
export async function loadOrCreateSeed(): Promise<SeedInfo> {
    const s = await readSettingTimed(SEED_SETTING)
    if (isHex64(s)) return { seed: Buffer.from(s, "hex"), generated: false }
    const seed = randomBuffer(32)
    await writeSettingTimed(SEED_SETTING, seed.toString("hex"))
    return { seed: seed, generated: true }
}

export class Counter {
    private next: number
    private limit: number
    boots: number

    constructor() {
        this.next = 1
        this.limit = 1
        this.boots = 0
    }

    /** Reads the stored state, counts this boot and reserves the first block. */
    async boot(): Promise<void> {
        const st = await readSettingTimed(STATE_SETTING)
        let limit = 1
        let boots = 0
        if (Array.isArray(st) && st.length === 2 && typeof st[0] === "number" && typeof st[1] === "number") {
            limit = st[0] < 1 ? 1 : st[0]
            boots = st[1]
        }
        this.next = limit
        this.limit = limit
        this.boots = boots + 1
        await this.reserve()
    }

    private async reserve(): Promise<void> {
        let limit = this.next + COUNTER_BLOCK
        if (limit > COUNTER_MAX + 1) limit = COUNTER_MAX + 1
        await writeSettingTimed(STATE_SETTING, [limit, this.boots])
        this.limit = limit
    }

    /** The next counter value, never returned before on this device (throws when exhausted). */
    async take(): Promise<number> {
        if (this.next > COUNTER_MAX) throw new Error("counter exhausted: provision a new key")
        if (this.next >= this.limit) await this.reserve()
        const c = this.next
        this.next = c + 1
        return c
    }
}
