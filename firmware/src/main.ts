import * as ds from "@devicescript/core"

async function go() {
    console.log("sceau firmware")
    let t0 = ds.millis()
    let x = 0
    for (let j = 0; j < 50; j++) {
        for (let i = 0; i < 2000; i++) {
            x = (x + i * 7) | 0
        }
        await ds.sleep(0)
    }
    console.log(`loop 100k ${ds.millis() - t0} ms ${x}`)
    t0 = ds.millis()
    let z = 0
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    for (let j = 0; j < 50; j++) {
        for (let i = 0; i < 2000; i++) {
            z = z + a[i & 15] * a[(i + 3) & 15]
        }
        await ds.sleep(0)
    }
    console.log(`arr loop 100k ${ds.millis() - t0} ms ${z}`)
    const zero = ds.millis() > 0 ? 0 : 1
    const big = 1099511627776 + 5 + zero
    console.log(`and ${big & 0xffff} ${(big * 3 + 77) & 0xffff} ${(-big - 3) & 0xffff} ${(3000000000 * 65536 + 12345) | 0} ${(-big - 3) >> 16}`)
    const y = 123456789 * (987654 + zero)
    console.log(`mul ${y} ${y - Math.floor(y / 65536) * 65536} ${4294967295 * 4294967295}`)
    console.log("#done")
}
await go()
