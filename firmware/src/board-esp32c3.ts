// ESP32-C3 (DeviceScript board "esp32c3_bare"; also ESP32-C3 SuperMini / DevKitM-1 wiring):
// sensor SDA = GPIO4, SCL = GPIO5 (see README.md, "Boards and wiring").
import { pins } from "@dsboard/esp32c3_bare"
import { configureHardware } from "@devicescript/servers"
import { startBoard } from "./board-common"

configureHardware({ i2c: { pinSDA: pins.P4, pinSCL: pins.P5, kHz: 100 }, scanI2C: false })
// LoRa SPI: SCK GPIO6, MOSI GPIO7, MISO GPIO2, NSS GPIO10, RESET GPIO3, BUSY (SX126x) GPIO1
await startBoard({ sck: pins.P6, mosi: pins.P7, miso: pins.P2, cs: pins.P10, rst: pins.P3, busy: pins.P1 })
