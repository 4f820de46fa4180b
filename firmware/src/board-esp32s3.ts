// ESP32-S3 (DeviceScript board "esp32s3_bare", e.g. ESP32-S3-DevKitC-1):
// sensor SDA = GPIO8, SCL = GPIO9 (see README.md, "Boards and wiring").
import { pins } from "@dsboard/esp32s3_bare"
import { configureHardware } from "@devicescript/servers"
import { startBoard } from "./board-common"

configureHardware({ i2c: { pinSDA: pins.P8, pinSCL: pins.P9, kHz: 100 }, scanI2C: false })
// LoRa SPI: SCK GPIO12, MOSI GPIO11, MISO GPIO13, NSS GPIO10, RESET GPIO14, BUSY (SX126x) GPIO15
await startBoard({ sck: pins.P12, mosi: pins.P11, miso: pins.P13, cs: pins.P10, rst: pins.P14, busy: pins.P15 })
