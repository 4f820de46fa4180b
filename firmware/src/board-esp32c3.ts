// ESP32-C3 (DeviceScript board "esp32c3_bare"; also ESP32-C3 SuperMini / DevKitM-1 wiring):
// sensor SDA = GPIO4, SCL = GPIO5 (see README.md, "Boards and wiring").
import { pins } from "@dsboard/esp32c3_bare"
import { configureHardware } from "@devicescript/servers"
import { startBoard } from "./board-common"

configureHardware({ i2c: { pinSDA: pins.P4, pinSCL: pins.P5, kHz: 100 }, scanI2C: false })
await startBoard()
