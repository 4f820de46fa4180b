// Entry point for the DeviceScript VM (simulator, CI): the simulated climate sensor.
// Boards use src/board-*.ts, which start real sensor drivers.
import { startFirmware } from "./firmware"
import { SimulatedClimate } from "./sensors"

await startFirmware(new SimulatedClimate(), null)
