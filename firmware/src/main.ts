import * as ds from "@devicescript/core"
import { sha512 } from "./sha512"
import { ed25519ExpandKey, ed25519Sign } from "./ed25519"

console.log((await sha512(Buffer.from("abc"))).toString("hex"))
const t0 = ds.millis()
const key = await ed25519ExpandKey(Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"))
const t1 = ds.millis()
console.log(key.publicKey.toString("hex"))
const sig = await ed25519Sign(key, Buffer.alloc(0))
const t2 = ds.millis()
console.log(sig.toString("hex"))
console.log(`expand ${t1 - t0} ms sign ${t2 - t1} ms`)
import { feNew, feMul, feSqr } from "./fe"
const fa = feNew()
const fb = feNew()
fa[0] = 12345
fb[3] = 999
let t3 = ds.millis()
for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 10; j++) feMul(fa, fa, fb)
    await ds.sleep(0)
}
console.log(`200 mul ${ds.millis() - t3} ms`)
t3 = ds.millis()
for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 10; j++) feSqr(fa, fa)
    await ds.sleep(0)
}
console.log(`200 sqr ${ds.millis() - t3} ms`)
console.log("#done")
