// The VM (and the runtime's log path on boards) cuts a console line at about 300 characters.
// Long payloads are therefore printed as continuation lines "<tag>+ <chunk>" followed by one
// final "<tag> <last chunk>"; a reader concatenates the chunks of a tag up to its final line.
const CHUNK = 200

export function printLong(tag: string, text: string): void {
    let off = 0
    while (text.length - off > CHUNK) {
        console.log(`${tag}+ ${text.slice(off, off + CHUNK)}`)
        off += CHUNK
    }
    console.log(`${tag} ${text.slice(off)}`)
}
