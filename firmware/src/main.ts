// Entry point for the DeviceScript VM (simulator, CI): the built-in simulated climate sensor, or
// (VM_SENSORS = "jacdac") temperature and humidity roles that a host program serves and sets
// (scripts/jd-sensors.mjs), read through the same code path as the drivers on a board.
// Boards use src/board-*.ts, which start real sensor drivers.
// LINK = "lora-fake" runs the LoRa link against the fake SX1276 (src/lora-fake.ts), which prints
// each packet as "sceau-radio <hex>": fragments, sender hints and the duty cycle, end to end.
// LINK = "lorawan-fake" runs the LoRaWAN link on that fake, with downlinks put on air by the host
// (src/lora-air-fake.ts): the whole firmware against a network model (tests/firmware-lorawan-link.test.ts).
import * as ds from "@devicescript/core"
import {
    LINK,
    LINK_MTU,
    LORA_DUTY_CYCLE,
    LORA_MAX_WAIT_MS,
    SENSOR_TIMEOUT_MS,
    VM_SENSORS,
} from "./config"
import { startFirmware } from "./firmware"
import { Link } from "./links"
import { configuredLoraParams } from "./lora-config"
import { LoraLink, LoraParams, Sx127x } from "./lora"
import { FakeSx1276 } from "./lora-fake"
import { RoleClimate, SensorSource, SimulatedClimate } from "./sensors"
import { HostAirRadio } from "./lora-air-fake"
import { openLorawanLink } from "./lorawan-link"
import { appControl } from "./app-control"

const sensor: SensorSource =
    VM_SENSORS === "jacdac"
        ? new RoleClimate(new ds.Temperature(), new ds.Humidity(), SENSOR_TIMEOUT_MS)
        : new SimulatedClimate()
let link: Link = null
if (LINK === "lora-fake") {
    const p: LoraParams = configuredLoraParams()
    const fake = new FakeSx1276()
    fake.echo = true
    const radio = new Sx127x(fake)
    await radio.init(p)
    link = new LoraLink(radio, p, LINK_MTU, LORA_DUTY_CYCLE, LORA_MAX_WAIT_MS)
} else if (LINK === "lorawan-fake") {
    const radio = new HostAirRadio()
    await radio.init(configuredLoraParams())
    link = await openLorawanLink(radio, appControl)
}
await startFirmware(sensor, link)
