// Loss and duplicate accounting for one (subscriber, publisher) stream: a growable bitmap of the
// sequence numbers seen. A number seen twice is a duplicate; one below the highest seen but new
// is a reordering; at the end, every sequence number the broker acknowledged (QoS >= 1) or the
// publisher wrote (QoS 0) and that is not in the bitmap is a loss.

export class SeqTracker {
  constructor () {
    this.bits = new Uint8Array(64)
    this.unique = 0
    this.duplicates = 0
    this.reordered = 0
    this.maxSeq = -1
  }

  /** returns false for a duplicate */
  mark (seq) {
    const byte = seq >>> 3
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2
      while (size <= byte) size *= 2
      const b = new Uint8Array(size)
      b.set(this.bits)
      this.bits = b
    }
    const bit = 1 << (seq & 7)
    if (this.bits[byte] & bit) { this.duplicates++; return false }
    this.bits[byte] |= bit
    this.unique++
    if (seq < this.maxSeq) this.reordered++
    else this.maxSeq = seq
    return true
  }

  has (seq) {
    const byte = seq >>> 3
    return byte < this.bits.length && (this.bits[byte] & (1 << (seq & 7))) !== 0
  }

  /**
   * Sequence numbers in [0, sent) that are not here, leaving out `excluded` (the publishes the
   * broker never acknowledged: at QoS >= 1 their delivery was not promised).
   */
  missing (sent, excluded) {
    let n = 0
    for (let s = 0; s < sent; s++) if (!this.has(s) && !(excluded && excluded.has(s))) n++
    return n
  }

  /** deliveries still missing (cheap, by count): what the drain waits for */
  outstanding (expectedCount) {
    return Math.max(0, expectedCount - this.unique)
  }
}

/** MQTT topic filter matching, for the plan (which subscriber hears which publisher) */
export function topicMatches (filter, topic) {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return !(i === 0 && t[0].startsWith('$'))
    if (i >= t.length) return false
    if (f[i] === '+') { if (i === 0 && t[0].startsWith('$')) return false; continue }
    if (f[i] !== t[i]) return false
  }
  return f.length === t.length
}
