// Raspberry Pi Pico and Pico W (DeviceScript boards "pico" / "pico_w"; same pins):
// sensor SDA = GP4, SCL = GP5 (I2C0) (see README.md, "Boards and wiring").
import { pins } from "@dsboard/pico"
import { configureHardware } from "@devicescript/servers"
import { startBoard } from "./board-common"

configureHardware({ i2c: { pinSDA: pins.GP4, pinSCL: pins.GP5, kHz: 100 }, scanI2C: false })
await startBoard()
