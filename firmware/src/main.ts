// Entry point for the DeviceScript VM (simulator, CI): the built-in simulated climate sensor, or
// (VM_SENSORS = "jacdac") temperature and humidity roles that a host program serves and sets
// (scripts/jd-sensors.mjs), read through the same code path as the drivers on a board.
// Boards use src/board-*.ts, which start real sensor drivers.
import * as ds from "@devicescript/core"
import { SENSOR_TIMEOUT_MS, VM_SENSORS } from "./config"
import { startFirmware } from "./firmware"
import { RoleClimate, SimulatedClimate } from "./sensors"

if (VM_SENSORS === "jacdac") await startFirmware(new RoleClimate(new ds.Temperature(), new ds.Humidity(), SENSOR_TIMEOUT_MS), null)
else await startFirmware(new SimulatedClimate(), null)
