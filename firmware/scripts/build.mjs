// Builds a firmware entry point with the pinned DeviceScript compiler in a private copy of the
// project (so concurrent builds never share .devicescript/), optionally replacing source files.
import { execFileSync } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const require = createRequire(import.meta.url)

export function devsCli() {
    return join(dirname(require.resolve("@devicescript/cli/package.json", { paths: [root] })), "devicescript")
}

/**
 * Compiles `entry` (relative to firmware/, e.g. "src/vectors-main.ts") and returns
 * { binary, sizes } where sizes is the compiler's bytecode-sizes.md text.
 * `replace` maps relative paths to new file contents for this build only.
 */
export function buildEntry(entry, replace = {}) {
    const dir = mkdtempSync(join(tmpdir(), "sceau-fw-"))
    try {
        cpSync(join(root, "src"), join(dir, "src"), { recursive: true })
        for (const f of ["devsconfig.json", "package.json"]) cpSync(join(root, f), join(dir, f))
        for (const [rel, text] of Object.entries(replace)) writeFileSync(join(dir, rel), text)
        try {
            execFileSync(process.execPath, [devsCli(), "build", "--quiet", entry], { cwd: dir, stdio: "pipe" })
        } catch (e) {
            throw new Error(`devs build ${entry} failed:\n${e.stdout}${e.stderr}`)
        }
        const bin = join(dir, ".devicescript", "bin")
        return {
            binary: new Uint8Array(readFileSync(join(bin, "bytecode.devs"))),
            sizes: readFileSync(join(bin, "bytecode-sizes.md"), "utf8"),
        }
    } finally {
        rmSync(dir, { recursive: true, force: true })
    }
}

/** src/config.ts with some constants replaced: `{ LINK: "tcp", TCP_PORT: 1234 }`. */
export function configSource(overrides = {}) {
    let text = readFileSync(join(root, "src", "config.ts"), "utf8")
    for (const [name, value] of Object.entries(overrides)) {
        const re = new RegExp(`^export const ${name}(: \\w+)? = .*$`, "m")
        if (!re.test(text)) throw new Error(`configSource: no constant ${name} in src/config.ts`)
        text = text.replace(re, `export const ${name}$1 = ${JSON.stringify(value)}`)
    }
    return text
}
