#!/usr/bin/env node
// npm run -w firmware bench: Ed25519 signing in the DeviceScript VM (the firmware's own code, no
// GC stress) against @noble/ed25519 in Node, in the same run; bytecode sizes; peak heap of a seal.
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import { buildEntry } from "./build.mjs"
import { runToMarker } from "./devs-vm.mjs"

ed.hashes.sha512 = sha512
const N = Number(process.env.BENCH_N ?? 20)
const deviceId = (mode, count) => mode.toString(16).padStart(2, "0") + count.toString(16).padStart(6, "0") + "00000000"

const bench = buildEntry("src/bench-main.ts")
const main = buildEntry("src/main.ts")

// VM timings
const lines = await runToMarker(bench.binary, { deviceId: deviceId(0, N), timeoutMs: 120000 })
const median = xs => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const expand = [], sign = [], seal = [], sealV2 = [], full = [], aes100 = [], uplink10 = [], rec10 = [], recV2x10 = []
let msgHex = ""
let v2Sizes = null
for (const l of lines) {
    const [tag, a, b, c, d] = l.split(" ")
    if (tag === "#rec") {
        rec10.push(Number(a))
        recV2x10.push(Number(b))
    }
    if (tag === "#v2") v2Sizes = { v1Frame: Number(a), v2Frame: Number(b), contentKeyMs: Number(c) }
    if (tag === "#msg") msgHex = a
    if (tag === "#lwt") {
        aes100.push(Number(a))
        uplink10.push(Number(b))
    }
    if (tag !== "#t") continue
    expand.push(Number(a))
    sign.push(Number(b))
    full.push(Number(a) + Number(b))
    seal.push(Number(c))
    sealV2.push(Number(d))
}
const vm = { full: median(full), expand: median(expand), sign: median(sign), seal: median(seal), sealV2: median(sealV2), fullMin: Math.min(...full) }
const lorawan = { aesBlockUs: (median(aes100) / 200) * 1000, uplinkMs: median(uplink10) / 20 }
lorawan.ratioToSeal = lorawan.uplinkMs / vm.seal
lorawan.ratioToSign = lorawan.uplinkMs / vm.sign

// noble, same message and seed; sign(msg, seed) derives the key each time, like "full" above
const seed = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex")
const msg = Buffer.from(msgHex, "hex")
for (let i = 0; i < 300; i++) ed.sign(msg, seed)
// median of 20 batches of 100
const batches = f => {
    const r = []
    for (let b = 0; b < 20; b++) {
        const t = performance.now()
        for (let i = 0; i < 100; i++) f()
        r.push((performance.now() - t) / 100)
    }
    return median(r)
}
const nobleMs = batches(() => ed.sign(msg, seed))
const nobleKeyMs = batches(() => ed.getPublicKey(seed))

// peak heap of one seal (key derivation included): largest ballast that still lets it finish
async function maxBallast(mode, binary = bench.binary) {
    const ok = async n => {
        try {
            const l = await runToMarker(binary, { deviceId: deviceId(mode, n), timeoutMs: 30000 })
            return l.some(x => x.startsWith("#ballast"))
        } catch {
            return false
        }
    }
    let lo = 0
    let hi = 512
    while (hi - lo > 1) {
        const mid = (lo + hi) >> 1
        if (await ok(mid)) lo = mid
        else hi = mid
    }
    return lo
}
// the same ballast in an image without the firmware's crypto: the difference is its static state
const bare = buildEntry("src/heap-bare.ts", {
    "src/heap-bare.ts": `import * as ds from "@devicescript/core"
const id = ds.deviceIdentifier("self")
let count = 0
for (let i = 2; i < 8; i++) {
    const c = id.charCodeAt(i)
    count = count * 16 + (c <= 57 ? c - 48 : (c | 32) - 87)
}
const ballast: Buffer[] = []
for (let i = 0; i < count; i++) ballast.push(Buffer.alloc(248))
console.log(\`#ballast \${ballast.length}\`)
console.log("#done")
`,
})
const bareMax = await maxBallast(1, bare.binary)
const base = await maxBallast(1)
const withSeal = await maxBallast(2)
const peakHeap = (base - withSeal + 1) * 256
const staticHeap = (bareMax - base + 1) * 256

const imageBytes = b => b.binary.length
const fmt = x => x.toFixed(2)
const report = {
    node: process.version,
    vmFullSignMs: vm.full,
    vmExpandKeyMs: vm.expand,
    vmSignCachedKeyMs: vm.sign,
    vmSealCachedKeyMs: vm.seal,
    nobleSignMs: nobleMs,
    nobleGetPublicKeyMs: nobleKeyMs,
    ratioFull: vm.full / nobleMs,
    ratioSealCachedKey: vm.seal / nobleMs,
    benchImageBytes: imageBytes(bench),
    mainImageBytes: imageBytes(main),
    peakHeapBytesUpperBound: peakHeap,
    staticHeapBytesUpperBound: staticHeap,
    heapCapacityBlocks: base,
    vmAesBlockUs: lorawan.aesBlockUs,
    vmLorawanUplinkMs: lorawan.uplinkMs,
    ratioLorawanUplinkToSeal: lorawan.ratioToSeal,
    ratioLorawanUplinkToSign: lorawan.ratioToSign,
    vmSealV2CachedKeyMs: vm.sealV2,
    vmRecordV1EncodeMs: median(rec10) / 10,
    vmRecordV2EncodeMs: median(recV2x10) / 10,
    vmRecordV2CostMs: (median(recV2x10) - median(rec10)) / 10,
    ratioSealV2ToSeal: vm.sealV2 / vm.seal,
    recordV2ExtraBytes: v2Sizes.v2Frame - v2Sizes.v1Frame,
    vmContentKeyExpansionMs: v2Sizes.contentKeyMs,
}
console.log(`Ed25519 in the DeviceScript VM (@devicescript/cli 2.16.4, no GC stress), node ${process.version}, medians of N=${N}`)
console.log(`  VM seed -> signature (key derivation + sign): ${fmt(vm.full)} ms (min ${fmt(vm.fullMin)})`)
console.log(`  VM key derivation only:                      ${fmt(vm.expand)} ms`)
console.log(`  VM sign with the key cached:                 ${fmt(vm.sign)} ms`)
console.log(`  VM seal (record CBOR + COSE_Sign1, key cached): ${fmt(vm.seal)} ms`)
console.log(`  @noble/ed25519 sign(msg, seed) in Node:      ${(nobleMs * 1000).toFixed(1)} us`)
console.log(`  ratio VM / noble (like for like, seed -> signature): ${fmt(vm.full / nobleMs)}x (target <= 250x)`)
console.log(`  ratio VM seal (cached key) / noble sign:     ${fmt(vm.seal / nobleMs)}x`)
console.log(`LoRaWAN 1.0.x in the same VM run (firmware/src/aes.ts, cmac.ts, lorawan-frames.ts), medians of N=${N}`)
console.log(`  one AES-128 block:                             ${lorawan.aesBlockUs.toFixed(1)} us (budget 175 us)`)
console.log(`  107-byte uplink, CMAC + FRMPayload encryption: ${lorawan.uplinkMs.toFixed(2)} ms`)
console.log(`  ratio uplink LoRaWAN work / seal (cached key): ${(100 * lorawan.ratioToSeal).toFixed(1)}% (target <= 10%); / signature alone: ${(100 * lorawan.ratioToSign).toFixed(1)}%`)
console.log(`Record version 2 (readings encrypted: HKDF base IV once per content key, AES-256-CCM with AAD per record), medians of N=${N}`)
const v2Cost = (median(recV2x10) - median(rec10)) / 10
console.log(`  record encoding: v1 ${fmt(median(rec10) / 10)} ms, v2 ${fmt(median(recV2x10) / 10)} ms: the encryption costs ${fmt(v2Cost)} ms per record, ${(100 * v2Cost / vm.seal).toFixed(1)}% of a v1 seal`)
console.log(`  VM seal v2 (cached keys): ${fmt(vm.sealV2)} ms against v1 ${fmt(vm.seal)} ms in the same iterations (the difference is within the signature's noise)`)
console.log(`  frame of the 3-reading record: v1 ${v2Sizes.v1Frame} B, v2 ${v2Sizes.v2Frame} B (+${v2Sizes.v2Frame - v2Sizes.v1Frame} B); content key expansion once: ${v2Sizes.contentKeyMs} ms`)
console.log(`  bytecode: bench image ${imageBytes(bench)} B, firmware image (src/main.ts) ${imageBytes(main)} B (base table 24576 B of it)`)
console.log(`  peak heap of one seal incl. key derivation: <= ${peakHeap} B transient + <= ${staticHeap} B static state = <= ${peakHeap + staticHeap} B`)
console.log(`    (ballast probe in 256-byte blocks: largest ballast that still lets the program finish; VM heap ~${bareMax * 256} B)`)
if (process.argv.includes("--json")) console.log(JSON.stringify(report))
