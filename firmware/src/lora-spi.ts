// The RadioBus of a real board: the SPI controller of @devicescript/spi, chip select and reset
// on GPIOs, and the SX126x BUSY line. Not available in the simulator (no SPI there).
import * as ds from "@devicescript/core"
import "@devicescript/gpio"
import { spi } from "@devicescript/spi"
import { RadioBus } from "./lora"

export interface LoraPins {
    sck: ds.OutputPin
    mosi: ds.OutputPin
    miso: ds.InputPin
    cs: ds.OutputPin
    rst: ds.OutputPin
    /** SX126x BUSY; null for SX127x */
    busy: ds.InputPin
}

export class SpiRadioBus implements RadioBus {
    private pins: LoraPins

    constructor(pins: LoraPins) {
        this.pins = pins
        spi.configure({ sck: pins.sck, mosi: pins.mosi, miso: pins.miso, mode: 0, hz: 4000000 })
        pins.cs.write(1)
        pins.rst.write(1)
        if (pins.busy !== null) pins.busy.setMode(ds.GPIOMode.Input)
    }

    async transfer(tx: Buffer): Promise<Buffer> {
        this.pins.cs.write(0)
        const rx = await spi.transfer(tx)
        this.pins.cs.write(1)
        return rx
    }

    async reset(): Promise<void> {
        this.pins.rst.write(0)
        await ds.sleep(2)
        this.pins.rst.write(1)
        await ds.sleep(10)
    }

    busy(): boolean {
        return this.pins.busy !== null && this.pins.busy.value === 1
    }
}
