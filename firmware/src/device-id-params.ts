// Host programs that run firmware entries in the VM (the bench, the LoRaWAN vectors) pass small
// parameters in the VM's device id, 16 hex digits: this reads digits [from, to) as a number.
import * as ds from "@devicescript/core"

export function deviceIdParam(from: number, to: number): number {
    const s = ds.deviceIdentifier("self")
    let v = 0
    for (let i = from; i < to; i++) {
        const c = s.charCodeAt(i)
        v = v * 16 + (c <= 57 ? c - 48 : (c | 32) - 87)
    }
    return v
}
