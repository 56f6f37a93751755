// Latency histogram: log-linear buckets over microseconds (exact below 256 µs, then 128
// sub-buckets per power of two: under 0.8 % relative error), up to about 35 minutes.
// Fixed size, so workers ship it to the coordinator as a plain array and merging is adding.

const LINEAR = 256
const SUB = 128
const EXPONENTS = 24
export const BUCKETS = LINEAR + EXPONENTS * SUB

function indexOf (us) {
  if (us < LINEAR) return us < 0 ? 0 : us
  const e = 31 - Math.clz32(us) - 7 // us >> e is in [128, 256)
  const i = LINEAR + (e - 1) * SUB + ((us >>> e) - SUB)
  return i < BUCKETS ? i : BUCKETS - 1
}

// the middle of a bucket, in µs
function valueOf (i) {
  if (i < LINEAR) return i
  const e = Math.floor((i - LINEAR) / SUB) + 1
  const m = (i - LINEAR) % SUB + SUB
  return (m << e) + (1 << (e - 1))
}

export class Hist {
  constructor () {
    this.counts = new Float64Array(BUCKETS)
    this.n = 0
    this.sum = 0
    this.min = Infinity
    this.max = 0
  }

  recordMs (ms) {
    const us = Math.round(ms * 1000)
    this.counts[indexOf(us)]++
    this.n++
    this.sum += us
    if (us < this.min) this.min = us
    if (us > this.max) this.max = us
  }

  /** a compact form for IPC: [n, sum, min, max, [index, count]...] */
  toJSON () {
    const pairs = []
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) pairs.push(i, this.counts[i])
    return [this.n, this.sum, this.n ? this.min : 0, this.max, pairs]
  }

  merge (j) {
    if (!j) return this
    const [n, sum, min, max, pairs] = j
    if (!n) return this
    for (let k = 0; k < pairs.length; k += 2) this.counts[pairs[k]] += pairs[k + 1]
    this.n += n
    this.sum += sum
    if (min < this.min) this.min = min
    if (max > this.max) this.max = max
    return this
  }

  percentileUs (p) {
    if (!this.n) return null
    const rank = Math.max(1, Math.ceil((p / 100) * this.n))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) return Math.min(Math.max(valueOf(i), this.min), this.max)
    }
    return this.max
  }

  /** milliseconds, rounded to the µs; the same keys as mqtt-bench plus p90 and p99.9 */
  summaryMs () {
    const ms = (us) => (us == null ? null : Math.round(us) / 1000)
    return {
      samples: this.n,
      min: this.n ? ms(this.min) : null,
      mean: this.n ? ms(this.sum / this.n) : null,
      p50: ms(this.percentileUs(50)),
      p90: ms(this.percentileUs(90)),
      p99: ms(this.percentileUs(99)),
      p999: ms(this.percentileUs(99.9)),
      max: this.n ? ms(this.max) : null
    }
  }
}
