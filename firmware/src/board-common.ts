// Shared start-up of the board entry points (which configure I2C themselves: the compiler wants
// configureHardware's pins as a literal): the climate sensor driver, then the firmware loop.
import * as ds from "@devicescript/core"
import { startAHT20, startSHT30, startSHTC3 } from "@devicescript/drivers"
import { SENSOR, SENSOR_TIMEOUT_MS } from "./config"
import { startFirmware } from "./firmware"
import { RoleClimate } from "./sensors"

export async function startBoard(): Promise<void> {
    let roles: { temperature: ds.Temperature; humidity: ds.Humidity } = null
    try {
        if (SENSOR === "aht20") roles = await startAHT20()
        else if (SENSOR === "shtc3") roles = await startSHTC3()
        else roles = await startSHT30()
    } catch (e) {
        console.log(`sceau-error sensor ${SENSOR}: ${e}`)
    }
    // without a sensor the device still boots, seals its boot reading and reports nothing else
    const t = roles === null ? new ds.Temperature() : roles.temperature
    const h = roles === null ? new ds.Humidity() : roles.humidity
    await startFirmware(new RoleClimate(t, h, SENSOR_TIMEOUT_MS))
}
