// Who publishes where and who hears whom: the same in the coordinator and in every worker.

import { topicMatches } from './tracker.mjs'

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6 // monotonic, one clock for every process of the host

export function buildPlan (cfg, runId) {
  const T = cfg.topicPrefix
  const pubPort = (i) => (cfg.pubPorts.length ? cfg.pubPorts[i % cfg.pubPorts.length] : cfg.port)
  const subPort = (j) => (cfg.subPorts.length ? cfg.subPorts[j % cfg.subPorts.length] : cfg.port)
  const pubs = []
  for (let i = 0; i < cfg.pubs; i++) {
    pubs.push({ index: i, topic: cfg.scenario === 'fanout' ? `${T}/0` : `${T}/${i}`, port: pubPort(i), clientId: `lg${runId}p${i}` })
  }
  const subs = []
  for (let j = 0; j < cfg.subs; j++) {
    let filter
    if (cfg.subTopic) filter = cfg.subTopic.replaceAll('%i', String(j))
    else if (cfg.scenario === 'pairs') filter = `${T}/${j}`
    else if (cfg.scenario === 'fanout') filter = `${T}/0`
    else filter = `${T}/#`
    subs.push({ index: j, filter, port: subPort(j), clientId: `lg${runId}s${j}` })
  }
  // subscriber j hears these publishers (pairs without --sub-topic: just j, no P x S matching)
  const hears = subs.map((s) => {
    if (!cfg.subTopic && cfg.scenario === 'pairs') return s.index < pubs.length ? [s.index] : []
    if (s.filter.startsWith('$share/')) throw new Error('shared subscriptions are not supported by this generator (loss accounting needs every subscriber to hear every matching message)')
    return pubs.filter((p) => topicMatches(s.filter, p.topic)).map((p) => p.index)
  })
  return { pubs, subs, hears }
}

/** the source address of client k, round robin over --local-addresses */
export function localAddress (cfg, k) {
  return cfg.localAddresses.length ? cfg.localAddresses[k % cfg.localAddresses.length] : undefined
}

/** run fn over items with at most `limit` in flight */
export async function withConcurrency (items, limit, fn) {
  let next = 0
  const lanes = []
  for (let l = 0; l < Math.min(limit, items.length); l++) {
    lanes.push((async () => {
      while (next < items.length) {
        const k = next++
        await fn(items[k], k)
      }
    })())
  }
  await Promise.all(lanes)
}
