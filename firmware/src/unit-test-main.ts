// Test entry (tests/firmware-queue.test.ts): the store-and-forward queue. Prints "#r" lines.
import { printLong } from "./console-lines"
import { SampleQueue } from "./queue"
import { Sample } from "./sensors"

function batch(n: number, base: number): Sample[] {
    const b: Sample[] = []
    for (let i = 0; i < n; i++) b.push({ channel: 1, value: base + i, at: base })
    return b
}

function shape(q: SampleQueue): number[][] {
    const out: number[][] = []
    for (;;) {
        const b = q.peek()
        if (b === null) break
        out.push(b.map(s => s.value))
        q.shift()
    }
    return out
}

// room to merge: 6 batches of 2 into a queue of 3 holding up to 4 readings per batch
const q1 = new SampleQueue(3, 4)
for (let i = 0; i < 6; i++) q1.push(batch(2, 100 * i))
const d1 = q1.dropped
printLong("#r merge", JSON.stringify({ dropped: d1, batches: shape(q1) }))

// no room to merge (batches already full): the oldest go, counted
const q2 = new SampleQueue(2, 3)
for (let i = 0; i < 5; i++) q2.push(batch(3, 100 * i))
const d2 = q2.dropped
printLong("#r drop", JSON.stringify({ dropped: d2, batches: shape(q2) }))
console.log("#done")
