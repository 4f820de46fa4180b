// Sensor sources. On boards, drivers read real sensors; in the DeviceScript VM (ds.isSimulator())
// a simulated source gives plausible values (temperature and humidity with a slow cycle), so the
// whole pipeline runs in CI without hardware.
import * as ds from "@devicescript/core"

export interface Sample {
    channel: number
    value: number
    /** ds.millis() when measured */
    at: number
}

export interface SensorSource {
    /** Appends this source's samples to `out`; a failed read appends nothing. */
    sample(out: Sample[]): Promise<void>
}

/** Channel 1 (Cel, 0.01) and 2 (%RH, 0.01), a slow deterministic cycle plus a small wobble. */
export class SimulatedClimate implements SensorSource {
    private n: number

    constructor() {
        this.n = 0
    }

    async sample(out: Sample[]): Promise<void> {
        const n = this.n
        this.n = n + 1
        const phase = (n % 144) - 72
        const wobble = ((n * 7919) % 13) - 6
        const now = ds.millis()
        out.push({ channel: 1, value: 2000 + Math.abs(phase) * 5 + wobble, at: now })
        out.push({ channel: 2, value: 5000 - Math.abs(phase) * 10 + 3 * wobble, at: now })
    }
}
