// What the network may change in the running firmware: application downlinks on CONTROL_FPORT
// (src/lorawan-link.ts). One command so far:
//   0x01 ‖ seconds (uint32, big-endian, 10..86400)   set the sampling interval (until reboot)
// Anything else is ignored and reported on the console ("sceau-control ignored <hex>").
import { SAMPLE_INTERVAL_MS } from "./config"

export const CMD_SAMPLE_INTERVAL = 0x01
export const MIN_INTERVAL_S = 10
export const MAX_INTERVAL_S = 86400

export class AppControl {
    /** milliseconds between two samplings (the firmware loop reads it every round) */
    intervalMs: number
    constructor(intervalMs: number) {
        this.intervalMs = intervalMs
    }
}

/** The running firmware's control values (one per program). */
export const appControl = new AppControl(SAMPLE_INTERVAL_MS)

/** Applies one control downlink; returns whether it was understood. */
export function applyControlDownlink(c: AppControl, payload: Buffer): boolean {
    if (payload.length === 5 && payload[0] === CMD_SAMPLE_INTERVAL) {
        const s = payload[1] * 16777216 + payload[2] * 65536 + payload[3] * 256 + payload[4]
        if (s >= MIN_INTERVAL_S && s <= MAX_INTERVAL_S) {
            c.intervalMs = s * 1000
            console.log(`sceau-control interval=${s}`)
            return true
        }
    }
    console.log(`sceau-control ignored ${payload.toString("hex")}`)
    return false
}
