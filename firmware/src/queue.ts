// Store-and-forward: batches of samples wait here while the link is down. The queue is bounded;
// when full, the two oldest batches are merged (they still fit one frame of the link), and only
// when no merge fits is the oldest batch dropped. Dropped readings are counted and reported in a
// later record on channel DROPPED_CHANNEL.
import { Sample } from "./sensors"

/** Readings dropped by the store-and-forward queue (a reading in a later record). */
export const DROPPED_CHANNEL = 33

export class SampleQueue {
    private batches: Sample[][]
    private max: number
    private maxReadings: number
    dropped: number

    /** `maxReadings`: readings that fit one frame of the link. */
    constructor(max: number, maxReadings: number) {
        this.batches = []
        this.max = max < 1 ? 1 : max
        this.maxReadings = maxReadings
        this.dropped = 0
    }

    size(): number {
        return this.batches.length
    }

    push(batch: Sample[]): void {
        this.batches.push(batch)
        while (this.batches.length > this.max) {
            const b = this.batches
            let merged = false
            for (let i = 0; i + 1 < b.length; i++) {
                if (b[i].length + b[i + 1].length <= this.maxReadings) {
                    const m: Sample[] = []
                    for (const s of b[i]) m.push(s)
                    for (const s of b[i + 1]) m.push(s)
                    const rest: Sample[][] = []
                    for (let j = 0; j < b.length; j++) {
                        if (j === i) rest.push(m)
                        else if (j !== i + 1) rest.push(b[j])
                    }
                    this.batches = rest
                    merged = true
                    break
                }
            }
            if (!merged) {
                const old = b.shift()
                this.dropped += old.length
            }
        }
    }

    peek(): Sample[] {
        return this.batches.length > 0 ? this.batches[0] : null
    }

    shift(): void {
        this.batches.shift()
    }
}
