// Shared start-up of the board entry points (which configure I2C themselves: the compiler wants
// configureHardware's pins as a literal): the climate sensor driver, then the firmware loop.
import * as ds from "@devicescript/core"
import { startAHT20, startSHT30, startSHTC3 } from "@devicescript/drivers"
import {
    LINK,
    LINK_MTU,
    LORA_CHIP,
    LORA_DUTY_CYCLE,
    LORA_MAX_WAIT_MS,
    SENSOR,
    SENSOR_TIMEOUT_MS,
} from "./config"
import { startFirmware } from "./firmware"
import { Link } from "./links"
import { configuredLoraParams } from "./lora-config"
import { LoraLink, LoraParams, LoraRadio, Sx126x, Sx127x } from "./lora"
import { LoraPins, SpiRadioBus } from "./lora-spi"
import { RoleClimate } from "./sensors"
import { openLorawanLink } from "./lorawan-link"
import { appControl } from "./app-control"

async function loraLink(pins: LoraPins): Promise<Link> {
    const p: LoraParams = configuredLoraParams()
    const bus = new SpiRadioBus(pins)
    const radio: LoraRadio = LORA_CHIP === "sx1262" ? new Sx126x(bus) : new Sx127x(bus)
    await radio.init(p)
    if (LINK === "lorawan") return await openLorawanLink(radio, appControl)
    return new LoraLink(radio, p, LINK_MTU > 255 ? 255 : LINK_MTU, LORA_DUTY_CYCLE, LORA_MAX_WAIT_MS)
}

/** `lora`: the radio's wiring, used when LINK is "lora" or "lorawan" (busy: null on SX127x boards is fine). */
export async function startBoard(lora: LoraPins): Promise<void> {
    let roles: { temperature: ds.Temperature; humidity: ds.Humidity } = null
    try {
        if (SENSOR === "aht20") roles = await startAHT20()
        else if (SENSOR === "shtc3") roles = await startSHTC3()
        else roles = await startSHT30()
    } catch (e) {
        console.log(`sceau-error sensor ${SENSOR}: ${(e as Error).message}`)
    }
    // without a sensor the device still boots, seals its boot reading and reports nothing else
    const t = roles === null ? new ds.Temperature() : roles.temperature
    const h = roles === null ? new ds.Humidity() : roles.humidity
    let link: Link = null
    if (LINK === "lora" || LINK === "lorawan") {
        try {
            link = await loraLink(lora)
        } catch (e) {
            console.log(`sceau-error ${(e as Error).message}`)
            return
        }
    }
    await startFirmware(new RoleClimate(t, h, SENSOR_TIMEOUT_MS), link)
}
