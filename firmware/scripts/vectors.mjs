#!/usr/bin/env node
// npm run -w firmware vectors -- IN.json OUT.json
// IN.json: [{ "seed": hex32, "record": [1, counter, time|null, [[ch, value(, age)], ...]], "kid": bool }]
//          (with "contentKey": hex32 the record is sealed as version 2: operational readings in
//          clear, the rest in a COSE_Encrypt0 under that key; record[0] may then be 1 or 2)
//          (an item { "seed", "message": hex } asks for a raw RFC 8032 signature instead)
// (an item { "fragment": frame hex, "mtu", "tag", "hint": hex | null } asks for the datagrams)
// OUT.json: [{ "frame": hex }] (or { "publicKey", "signature" }, or { "datagrams" }), in input order,
// computed by the firmware's own CBOR writer, SHA-2 and Ed25519 running in the DeviceScript VM.
import { readFileSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { buildEntry } from "./build.mjs"
import { runToMarker } from "./devs-vm.mjs"

/** Runs the cases in the VM; returns one result object per case. */
export async function runVectors(cases, { timeoutMs } = {}) {
    if (!Array.isArray(cases)) throw new TypeError("input: expected a JSON array of cases")
    const texts = cases.map((c, i) => {
        if (c && typeof c.fragment === "string") return JSON.stringify({ fragment: c.fragment, mtu: c.mtu, tag: c.tag, hint: c.hint ?? null })
        if (typeof c !== "object" || c === null || typeof c.seed !== "string" || !/^[0-9a-fA-F]{64}$/.test(c.seed))
            throw new TypeError(`case ${i}: expected { seed: 64 hex characters, ... }`)
        if (c.message === undefined && !Array.isArray(c.record))
            throw new TypeError(`case ${i}: expected a record array (or a message for raw signing)`)
        if (c.contentKey !== undefined && (typeof c.contentKey !== "string" || !/^[0-9a-fA-F]{64}$/.test(c.contentKey)))
            throw new TypeError(`case ${i}: contentKey: expected 64 hex characters`)
        if (c.message !== undefined) return JSON.stringify({ seed: c.seed, message: c.message })
        const item = { seed: c.seed, record: c.record, kid: !!c.kid }
        if (c.contentKey !== undefined) item.contentKey = c.contentKey.toLowerCase()
        return JSON.stringify(item)
    })
    const input = `export const CASES: string[] = [\n${texts.map(t => "    " + JSON.stringify(t)).join(",\n")}\n]\n`
    const { binary } = buildEntry("src/vectors-main.ts", { "src/vector-input.ts": input })
    const lines = await runToMarker(binary, { timeoutMs: timeoutMs ?? 20000 + 1000 * cases.length })
    const hex = cases.map(() => "")
    const datagrams = []
    const results = cases.map(() => null)
    for (const line of lines) {
        const [tag, idx, rest] = [line.split(" ")[0], Number(line.split(" ")[1]), line.split(" ").slice(2).join(" ")]
        if (tag === "#out") hex[idx] += rest
        else if (tag === "#end" && rest === "datagram") {
            ;(datagrams[idx] ??= []).push(hex[idx])
            hex[idx] = ""
        } else if (tag === "#end")
            results[idx] =
                rest === "signature"
                    ? { publicKey: hex[idx].slice(0, 64), signature: hex[idx].slice(64) }
                    : rest === "fragments"
                      ? { datagrams: datagrams[idx] ?? [] }
                      : { frame: hex[idx] }
        else if (tag === "#error") throw new Error(`case ${idx}: firmware error: ${rest}`)
        else if (line.startsWith("! ")) throw new Error(`VM error: ${lines.filter(l => l.startsWith("! ")).join("\n")}`)
    }
    results.forEach((r, i) => {
        if (!r) throw new Error(`case ${i}: no result from the VM`)
    })
    return results
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const [inPath, outPath] = process.argv.slice(2)
    if (!inPath || !outPath) {
        console.error("usage: npm run -w firmware vectors -- IN.json OUT.json")
        process.exit(2)
    }
    // npm runs workspace scripts in firmware/; resolve paths against where the user ran npm
    const base = process.env.INIT_CWD ?? process.cwd()
    try {
        const cases = JSON.parse(readFileSync(resolve(base, inPath), "utf8"))
        const out = await runVectors(cases)
        writeFileSync(resolve(base, outPath), JSON.stringify(out, null, 2) + "\n")
        console.error(`${out.length} case(s) sealed in the DeviceScript VM -> ${outPath}`)
    } catch (e) {
        console.error(String(e?.message ?? e))
        process.exit(e instanceof TypeError || e instanceof SyntaxError ? 2 : 4)
    }
}
