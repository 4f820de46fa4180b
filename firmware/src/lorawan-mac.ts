// The receive side of the class A MAC: a frame heard in RX1 or RX2 is opened with its rebuilt
// 32-bit counter (src/lorawan-counters.ts); only an accepted one touches the MAC state: its SNR
// is kept for DevStatusAns, its MAC commands (FOpts, or the FRMPayload of FPort 0, decrypted with
// NwkSKey) are applied, and a confirmed one makes the next uplink carry ACK. A refused frame
// (replay, other device, bad MIC) changes nothing: sticky answers keep being repeated.
import { Downlink, LorawanSession } from "./lorawan-frames"
import { DownlinkCounter, acceptDownlink } from "./lorawan-counters"
import { MacState, processDownlinkCommands } from "./lorawan-mac-commands"
import { Region } from "./lorawan-region"

export function handleDownlink(r: Region, s: LorawanSession, dc: DownlinkCounter, st: MacState, phy: Buffer, snrDb: number): Downlink {
    const d = acceptDownlink(s, dc, phy)
    if (d.ok === false) return d
    st.snr = Math.round(snrDb)
    if (d.confirmed) st.ackDown = true
    processDownlinkCommands(r, st, d.fPort === 0 ? d.payload : d.fOpts)
    return d
}
