// Loads the DeviceScript VM (WebAssembly) shipped inside the pinned @devicescript/cli bundle and
// runs a compiled .devs image in it, without the CLI's websocket/TCP bus and without GC stress.
// The CLI does not export the VM, so its module text is cut out of the bundle by its esbuild
// markers; this is tied to @devicescript/cli 2.16.4 (pinned) and fails loudly if they move.
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import vm from "node:vm"

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

let factory
function patchOnce(body, from, to) {
    const i = body.indexOf(from)
    if (i < 0 || body.indexOf(from, i + 1) >= 0) throw new Error(`devs-vm: cannot patch the VM module (${JSON.stringify(from.slice(0, 40))})`)
    return body.slice(0, i) + to + body.slice(i + from.length)
}

export function loadFactory() {
    if (factory) return factory
    const bundle = require.resolve("@devicescript/cli/built/devicescript-cli.cjs", { paths: [here] })
    const text = readFileSync(bundle, "utf8")
    const start = text.indexOf('"runtime/devicescript-vm/built/devicescript-vm.js"(exports, module2) {')
    const end = text.indexOf("// dap/built/devicescript-dap.cjs", start)
    if (start < 0 || end < 0) throw new Error(`devs-vm: VM module not found in ${bundle}`)
    let body = text.slice(text.indexOf("{", start) + 1, text.lastIndexOf("}", text.lastIndexOf("}", end) - 1))
    // Two hooks for hosts that run the VM on their own clock (scripts/sim-device.mjs): an instance
    // with `timeNow` set reads its time from it instead of Date.now(), and one with `randomBytes`
    // set draws its "hardware" random bytes from it. Instances without them behave as before.
    body = patchOnce(body, "function em_time_now() {\n          return Date.now();", "function em_time_now() {\n          return Module2.timeNow ? Module2.timeNow() : Date.now();")
    body = patchOnce(
        body,
        "function em_jd_crypto_get_random(trg, size) {\n          let buf = new Uint8Array(size);",
        "function em_jd_crypto_get_random(trg, size) {\n          if (Module2.randomBytes) { HEAPU8.set(Module2.randomBytes(size), trg); return; }\n          let buf = new Uint8Array(size);"
    )
    const fn = vm.runInThisContext(`(function (exports, module2, require, __filename, __dirname, console) {${body}\n})`, {
        filename: "devicescript-vm.js",
    })
    const mod = { exports: {} }
    // the glue prints "PANIC <code>" with console.log; panics reach us through panicHandler
    const quiet = Object.assign(Object.create(console), {
        log: (...a) => (a[0] === "PANIC" ? undefined : console.log(...a)),
    })
    fn(mod.exports, mod, require, bundle, dirname(bundle), quiet)
    factory = mod.exports
    return factory
}

export const DEFAULT_DEVICE_ID = "5ceau0000000cafe"

/**
 * Starts one VM instance (several may live in one process) and deploys `binary`.
 * Every console line of the program goes to `onLine`; `flash` (optional) is an object
 * `{ data: Uint8Array }` kept across runs to emulate persistent flash.
 */
export async function startVm(binary, { onLine, onPanic, gcStress = false, flash, deviceId = DEFAULT_DEVICE_ID } = {}) {
    // print/printErr: the emscripten glue's own stdout lines (e.g. "PANIC 60004") are not ours
    const inst = await loadFactory()({ print: () => {}, printErr: () => {} })
    inst.dmesg = s => onLine?.(s)
    inst.log = () => {}
    inst.error = (...a) => onLine?.("! " + a.join(" "))
    inst.sendPacket = () => 0
    inst.panicHandler = code => onPanic?.(code)
    if (flash) {
        inst.flashLoad = () => flash.data ?? new Uint8Array(0)
        inst.flashSave = buf => {
            flash.data = new Uint8Array(buf)
        }
    } else {
        inst.flashLoad = null
        inst.flashSave = null
    }
    inst.devsGcStress(gcStress)
    inst.devsSetDeviceId(deviceId)
    inst.devsStart()
    const r = inst.devsDeploy(binary)
    if (r) throw new Error(`devs-vm: deploy error ${r}`)
    return inst
}

/**
 * Runs `binary` until the program prints a line equal to `doneMarker` (or panics, or times out),
 * and returns the console lines printed before the marker.
 */
export function runToMarker(binary, { doneMarker = "#done", timeoutMs = 60000, gcStress = false, flash, deviceId } = {}) {
    return new Promise((resolve, reject) => {
        const lines = []
        let inst
        let finished = false
        const finish = err => {
            if (finished) return
            finished = true
            clearTimeout(timer)
            // Stop outside the VM's own callback: its scheduler re-arms itself after a callback returns.
            setImmediate(() => inst?.devsStop())
            if (err) {
                err.lines = lines
                const errs = lines.filter(l => l.startsWith("! "))
                if (errs.length) err.message += "\n" + errs.join("\n")
                reject(err)
            } else resolve(lines)
        }
        const timer = setTimeout(() => finish(new Error(`devs-vm: timeout after ${timeoutMs} ms`)), timeoutMs)
        startVm(binary, {
            gcStress,
            flash,
            deviceId,
            onLine: s => {
                // console.log lines of the program arrive as "> text"; the rest is runtime chatter.
                for (const line of String(s).split("\n")) {
                    if (line.startsWith("! ")) {
                        lines.push(line)
                        continue
                    }
                    if (!line.startsWith("> ")) continue
                    const l = line.slice(2)
                    if (l === doneMarker) return finish()
                    lines.push(l)
                }
            },
            onPanic: code => finish(code ? new Error(`devs-vm: program panicked with code ${code}`) : undefined),
        }).then(i => {
            inst = i
            if (finished) setImmediate(() => inst.devsStop())
        }, finish)
    })
}

export function readBinary(path) {
    return new Uint8Array(readFileSync(path))
}

export const FIRMWARE_DIR = join(here, "..")

/**
 * The datagrams a console-link firmware printed: joins "sceau-frame+"/"sceau-fragment+"
 * continuation lines with their final line. Returns [{ kind: "frame" | "fragment", hex }].
 */
export function consoleDatagrams(lines) {
    const out = []
    let acc = ""
    for (const l of lines) {
        const m = /^sceau-(frame|fragment)(\+?) ([0-9a-f]*)$/.exec(l)
        if (!m) continue
        acc += m[3]
        if (m[2] === "+") continue
        out.push({ kind: m[1], hex: acc })
        acc = ""
    }
    return out
}
