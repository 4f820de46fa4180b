// Raspberry Pi Pico W (DeviceScript board "pico_w"): sensor SDA = GP4, SCL = GP5 (I2C0); the
// Wi-Fi link is the TCP link (set LINK = "tcp", TCP_HOST and TCP_PORT in src/config.ts).
import { pins } from "@dsboard/pico_w"
import { configureHardware } from "@devicescript/servers"
import { startBoard } from "./board-common"

configureHardware({ i2c: { pinSDA: pins.GP4, pinSCL: pins.GP5, kHz: 100 }, scanI2C: false })
// LoRa SPI0: SCK GP18, MOSI GP19, MISO GP16, NSS GP17, RESET GP20, BUSY (SX126x) GP21
await startBoard({ sck: pins.GP18, mosi: pins.GP19, miso: pins.GP16, cs: pins.GP17, rst: pins.GP20, busy: pins.GP21 })
