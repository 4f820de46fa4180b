// The OTAA join-request back-off (LoRaWAN L2 1.0.4 section 7, "Retransmissions back-off"): the
// join-requests of one activation may take at most 1 % of the time in the first hour after the
// first one, 0.1 % during the next 10 hours, and 0.01 % after that. Read as LoRa-net/LoRaMac-node
// does (an aggregated duty cycle): after a join-request of airtime T, the device stays silent for
// T * (divisor - 1), the divisor being 100, 1000 or 10000 by the phase.
//
// The device has no clock across reboots, so the phase is kept as a lower bound of the elapsed
// time (the airtime and silence of every earlier request) and stored, with the silence owed, in
// the same settings write as the request's DevNonce (src/lorawan-state.ts). A boot waits the whole
// silence again before the next request: time spent powered off never counts, so a board in a
// reboot loop joins no faster than the back-off allows.
import { LorawanCounters } from "./lorawan-state"

export const HOUR_MS = 3600000

/** The duty-cycle divisor for a join-request `elapsedMs` after the first one of the activation. */
export function joinDutyDivisor(elapsedMs: number): number {
    if (elapsedMs < HOUR_MS) return 100
    if (elapsedMs < 11 * HOUR_MS) return 1000
    return 10000
}

/**
 * Books a join-request of `airtimeMs` about to be sent: sets the counters' back-off values (stored
 * with its DevNonce by `takeDevNonce`) to the silence it imposes and the phase clock after it.
 */
export function bookJoinRequest(c: LorawanCounters, airtimeMs: number): void {
    const air = Math.ceil(airtimeMs)
    const off = air * (joinDutyDivisor(c.joinElapsedMs) - 1)
    c.joinOffMs = off
    c.joinElapsedMs = c.joinElapsedMs + air + off
}
