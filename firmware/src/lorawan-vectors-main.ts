// Entry point of `npm run -w firmware lorawan-vectors`: runs the firmware's LoRaWAN frame coding
// on cases served by scripts/lorawan-vectors.mjs over TCP on loopback (the VM cannot read files,
// and compiling thousands of cases into the image would be slow and large).
// The port is in the device id (digits 0-3, hex). Exchange, one line each:
//   VM -> host  "more"                 host -> VM  up to 8 case lines (JSON), then "."  (or "end")
//   VM -> host  one result line (JSON) per case, in order, then "more" again
// Hex in and out is in display order (EUIs and DevAddr big-endian), as this module's API takes it.
import * as ds from "@devicescript/core"
import { deviceIdParam } from "./device-id-params"
import { connect } from "@devicescript/net"
import { aesEncryptBlock, aesExpandKey } from "./aes"
import { aesCmac, cmacKey } from "./cmac"
import { LorawanSession, Uplink, cryptFrmPayload, dataMic, deriveSessionKeys10, encodeJoinRequest, encodeUplink, openDownlink, openJoinAccept } from "./lorawan-frames"

function hexOf(b: Buffer): string {
    return b === null ? "null" : `"${b.toString("hex")}"`
}

function bytes(hex: string): Buffer {
    return hex === null || hex === undefined ? null : Buffer.from(hex, "hex")
}

function flag(v: any): boolean {
    return v === true
}

function dir(c: any): number {
    return c.dir === "down" ? 1 : 0
}

function runCase(c: any): string {
    const op: string = c.op
    if (op === "aes") {
        const out = Buffer.alloc(16)
        aesEncryptBlock(aesExpandKey(bytes(c.key)), bytes(c.plaintext), 0, out, 0)
        return `{"ciphertext":${hexOf(out)}}`
    }
    if (op === "cmac") return `{"mac":${hexOf(aesCmac(cmacKey(bytes(c.key)), bytes(c.message)))}}`
    if (op === "session-keys") {
        const keys = deriveSessionKeys10(aesExpandKey(bytes(c.appKey)), c.joinNonce, c.netId, c.devNonce)
        return `{"nwkSKey":${hexOf(keys[0])},"appSKey":${hexOf(keys[1])}}`
    }
    if (op === "frm-payload") {
        const data = bytes(c.payload)
        cryptFrmPayload(aesExpandKey(bytes(c.key)), dir(c), bytes(c.devAddr), c.fCnt, data, 0, data.length)
        return `{"payload":${hexOf(data)}}`
    }
    if (op === "data-mic") {
        const msg = bytes(c.msg)
        const mic = Buffer.alloc(4)
        mic.setAt(0, "i32", dataMic(cmacKey(bytes(c.nwkSKey)), dir(c), bytes(c.devAddr), c.fCnt, msg, msg.length))
        return `{"mic":${hexOf(mic)}}`
    }
    if (op === "join-request") {
        const phy = encodeJoinRequest(cmacKey(bytes(c.appKey)), bytes(c.joinEui), bytes(c.devEui), c.devNonce)
        return `{"phyPayload":${hexOf(phy)}}`
    }
    if (op === "join-accept") {
        const appKey = cmacKey(bytes(c.appKey))
        const ja = openJoinAccept(appKey, bytes(c.phyPayload))
        if (ja.ok === false) return `{"ok":false,"error":"${ja.error}"}`
        const keys = deriveSessionKeys10(appKey.aes, ja.joinNonce, ja.netId, c.devNonce)
        return (
            `{"ok":true,"joinNonce":${ja.joinNonce},"netId":${ja.netId},"devAddr":${hexOf(ja.devAddr)},` +
            `"dlSettings":${ja.dlSettings},"rxDelay":${ja.rxDelay},"cfList":${hexOf(ja.cfList)},` +
            `"nwkSKey":${hexOf(keys[0])},"appSKey":${hexOf(keys[1])}}`
        )
    }
    const session = new LorawanSession(bytes(c.devAddr), bytes(c.nwkSKey), bytes(c.appSKey))
    if (op === "uplink") {
        const up = new Uplink(c.fCnt, c.fPort === null ? -1 : c.fPort, bytes(c.payload))
        up.confirmed = flag(c.confirmed)
        up.adr = flag(c.adr)
        up.adrAckReq = flag(c.adrAckReq)
        up.ack = flag(c.ack)
        up.fOpts = bytes(c.fOpts)
        return `{"phyPayload":${hexOf(encodeUplink(session, up))}}`
    }
    if (op === "downlink") {
        const d = openDownlink(session, c.fCntDown, bytes(c.phyPayload))
        if (d.ok === false) return `{"ok":false,"error":"${d.error}"}`
        return (
            `{"ok":true,"fPort":${d.fPort < 0 ? "null" : d.fPort},"payload":${hexOf(d.payload)},"fOpts":${hexOf(d.fOpts)},` +
            `"ack":${d.ack},"fPending":${d.fPending},"adr":${d.adr},"confirmed":${d.confirmed}}`
        )
    }
    throw new TypeError("unknown op")
}

const port = deviceIdParam(0, 4)
const sock = await connect({ host: "127.0.0.1", port: port, proto: "tcp" })
let done = 0
while (true) {
    await sock.send(Buffer.from("more\n"))
    let out = ""
    let end = false
    while (true) {
        const line = await sock.readLine()
        if (line === "." || line === "end" || line === undefined || line === null) {
            end = line !== "."
            break
        }
        let res = ""
        try {
            res = runCase(JSON.parse(line))
        } catch (e) {
            res = `{"refused":${JSON.stringify("" + e)}}`
        }
        out += res + "\n"
        done++
        await ds.sleep(0)
    }
    if (out.length > 0) await sock.send(Buffer.from(out))
    if (end) break
}
await sock.close()
console.log(`#cases ${done}`)
console.log("#done")
