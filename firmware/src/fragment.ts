// Fragments (design: Link; docs/protocol.md#fragments). A whole frame starts with 0xd2. A
// fragment starts with `0 TTT NNNN`: TTT the message tag (counter mod 8), NNNN the fragments still
// to come after this one; then a 2-byte sender hint where the transport does not name the sender.

export const MAX_FRAGMENTS = 16
export const SENDER_HINT_BYTES = 2

/** Bytes of frame one fragment carries. */
export function fragmentCapacity(mtu: number, withHint: boolean): number {
    return mtu - 1 - (withHint ? SENDER_HINT_BYTES : 0)
}

/** Largest frame a link carries, whole or in 16 fragments. */
export function maxFrameBytes(mtu: number, withHint: boolean): number {
    const f = MAX_FRAGMENTS * fragmentCapacity(mtu, withHint)
    return f > mtu ? f : mtu
}

/** The datagrams for `frame`; `hint` (2 bytes) or null when the link names the sender. */
export function fragmentFrame(frame: Buffer, mtu: number, tag: number, hint: Buffer | null): Buffer[] {
    if (frame.length <= mtu) return [frame]
    const hintLen = hint === null ? 0 : SENDER_HINT_BYTES
    const cap = fragmentCapacity(mtu, hint !== null)
    const count = Math.ceil(frame.length / cap)
    if (count > MAX_FRAGMENTS) throw new RangeError(`frame of ${frame.length} bytes needs ${count} fragments`)
    const out: Buffer[] = []
    for (let i = 0; i < count; i++) {
        const from = i * cap
        let n = frame.length - from
        if (n > cap) n = cap
        const d = Buffer.alloc(1 + hintLen + n)
        d[0] = ((tag & 7) << 4) | (count - 1 - i)
        if (hint !== null) d.blitAt(1, hint, 0, SENDER_HINT_BYTES)
        d.blitAt(1 + hintLen, frame, from, n)
        out.push(d)
    }
    return out
}
