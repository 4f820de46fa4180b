#!/usr/bin/env node
// npm run -w firmware build: compiles every entry point (VM and boards) with the pinned compiler
// into firmware/built/<entry>.devs, ready for `devs deploy`/flashing, and prints their sizes.
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { buildEntry } from "./build.mjs"

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "built")
mkdirSync(out, { recursive: true })
const entries = ["main", "board-esp32c3", "board-esp32s3", "board-pico", "board-pico-w"]
for (const e of entries) {
    const { binary } = buildEntry(`src/${e}.ts`)
    writeFileSync(join(out, `${e}.devs`), binary)
    console.log(`${e}.devs ${binary.length} bytes`)
}
