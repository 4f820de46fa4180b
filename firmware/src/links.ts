// Links: where datagrams go. The console link prints hex lines (serial capture, CI); the TCP link
// is the Wi-Fi boards' link to the gateway's TCP ingest (2-byte big-endian length + datagram).
import * as ds from "@devicescript/core"
import { Socket, connect } from "@devicescript/net"
import { printLong } from "./console-lines"

export interface Link {
    /** the smallest datagram the link may have to carry (the batch budget: 16 fragments of it) */
    readonly mtu: number
    readonly identifiesSender: boolean
    /**
     * Readies the link for a frame (LoRaWAN: joins when there is no session); false when it cannot
     * now (the caller keeps the data, takes no counter, seals nothing). Nothing else: a no-op.
     */
    ready(): Promise<boolean>
    /** the largest datagram now (LoRaWAN: N at the data rate of the next uplink, once ready); fragments are cut to it */
    sendMtu(): number
    /** Unix seconds from the network's clock, -1 when the link gives none */
    clockSeconds(): number
    /** the link's device EUI (16 hex digits) for the console key line, "" when none */
    devEui(): string
    /** Sends one datagram; false when the link is down (the caller keeps the data). */
    send(datagram: Buffer): Promise<boolean>
}

export class ConsoleLink implements Link {
    readonly mtu: number
    readonly identifiesSender: boolean

    constructor(mtu: number, identifiesSender: boolean) {
        this.mtu = mtu
        this.identifiesSender = identifiesSender
    }

    async ready(): Promise<boolean> {
        return true
    }

    sendMtu(): number {
        return this.mtu
    }

    clockSeconds(): number {
        return -1
    }

    devEui(): string {
        return ""
    }

    async send(datagram: Buffer): Promise<boolean> {
        const whole = (datagram[0] & 0x80) !== 0
        printLong(whole ? "sceau-frame" : "sceau-fragment", datagram.toString("hex"))
        return true
    }
}

export class TcpLink implements Link {
    readonly mtu: number
    readonly identifiesSender: boolean
    private host: string
    private port: number
    private sock: Socket
    private retryAt: number

    constructor(host: string, port: number, mtu: number) {
        this.host = host
        this.port = port
        this.mtu = mtu > 65535 ? 65535 : mtu
        this.identifiesSender = true
        this.sock = null
        this.retryAt = 0
    }

    private async open(): Promise<boolean> {
        if (this.sock !== null) return true
        if (ds.millis() < this.retryAt) return false
        try {
            this.sock = await connect({ host: this.host, port: this.port, proto: "tcp" })
            return true
        } catch (e) {
            this.sock = null
            this.retryAt = ds.millis() + 2000
            return false
        }
    }

    async ready(): Promise<boolean> {
        return true
    }

    sendMtu(): number {
        return this.mtu
    }

    clockSeconds(): number {
        return -1
    }

    devEui(): string {
        return ""
    }

    async send(datagram: Buffer): Promise<boolean> {
        if (!(await this.open())) return false
        const msg = Buffer.alloc(2 + datagram.length)
        msg[0] = datagram.length >> 8
        msg[1] = datagram.length & 255
        msg.blitAt(2, datagram, 0, datagram.length)
        try {
            await this.sock.send(msg)
            return true
        } catch (e) {
            const s = this.sock
            this.sock = null
            this.retryAt = ds.millis() + 2000
            try {
                await s.close()
            } catch (e2) {}
            return false
        }
    }
}
