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

/**
 * Temperature (channel 1) and humidity (channel 2) from DeviceScript roles, as started by the
 * drivers of @devicescript/drivers (SHT30, SHTC3, AHT20...). A read that does not answer within
 * `timeoutMs` (sensor unplugged, role unbound) is skipped, not waited for.
 */
export class RoleClimate implements SensorSource {
    private temperature: ds.Temperature
    private humidity: ds.Humidity
    private timeoutMs: number

    constructor(temperature: ds.Temperature, humidity: ds.Humidity, timeoutMs: number) {
        this.temperature = temperature
        this.humidity = humidity
        this.timeoutMs = timeoutMs
    }

    private async read(reg: ds.Register<number>): Promise<number> {
        const box = [NaN]
        const done = [false]
        setTimeout(async () => {
            box[0] = await reg.read()
            done[0] = true
        }, 0)
        const t0 = ds.millis()
        while (!done[0] && ds.millis() - t0 < this.timeoutMs) await ds.sleep(10)
        return done[0] ? box[0] : NaN
    }

    async sample(out: Sample[]): Promise<void> {
        const t = await this.read(this.temperature.reading)
        const h = await this.read(this.humidity.reading)
        const now = ds.millis()
        // channel scales (design): 0.01 Cel, 0.01 %RH
        if (!isNaN(t)) out.push({ channel: 1, value: Math.round(t * 100), at: now })
        if (!isNaN(h)) out.push({ channel: 2, value: Math.round(h * 100), at: now })
    }
}
