import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { ChannelHandle } from '../channel/context.js';
import { LocalCluster } from '../cluster.js';
import { ClientRegistry } from '../cm/registry.js';
import type { BrokerEvents } from '../events.js';
import type { BrokerHooks } from '../hooks.js';
import { LogThrottle } from '../node/log-throttle.js';
import { DeliveryLatency } from '../node/delivery-latency.js';
import { Stats } from '../node/stats.js';
import { DEFAULT_MQTT, type MqttOptions } from '../options.js';
import type { Session } from '../session/session.js';
import type { SubOptions } from '../subscription.js';
import { FakeOutlet, message, newSession, recordingEvents, silentLogger, subOpts } from '../testing/fakes.js';
import { Dispatcher, deliveryFor } from './dispatch.js';
import { Retainer } from './retainer.js';
import { Router } from './router.js';
import { Routes, routeFilter } from './routes.js';

function node(mqtt: Partial<MqttOptions> = {}, hooks: BrokerHooks = {}) {
  const router = new Router();
  const registry = new ClientRegistry();
  const retainer = new Retainer();
  const stats = new Stats();
  const events = new EventEmitter<BrokerEvents>();
  const cluster = new LocalCluster('n1');
  const dispatcher = new Dispatcher(router, registry, retainer, cluster, stats, new DeliveryLatency(), events, { ...DEFAULT_MQTT, ...mqtt }, hooks, new LogThrottle(silentLogger));
  const routes = new Routes(router, cluster);
  const outlets = new Map<string, FakeOutlet>();
  /** A connected client with a subscription. */
  const sub = (clientId: string, fullFilter: string, opts: SubOptions, connected = true): Session => {
    let s = registry.sessions.get(clientId);
    if (!s) {
      s = newSession(clientId, {}, recordingEvents(), 60);
      registry.sessions.set(clientId, s);
      const out = new FakeOutlet();
      outlets.set(clientId, out);
      if (connected) {
        s.attach(out, 0);
        registry.channels.set(clientId, { clientId } as ChannelHandle);
      }
    }
    s.setSubscription(fullFilter, opts);
    routes.add(clientId, fullFilter, opts);
    return s;
  };
  const got = (clientId: string) => outlets.get(clientId)!.sent.map((x) => `${x.topic}@${x.qos}`);
  return { router, registry, retainer, stats, events, dispatcher, routes, sub, got };
}

test('routeFilter strips $share/{group}/ from shared filters only', () => {
  assert.equal(routeFilter('$share/g/a/+', subOpts(0, { share: 'g' })), 'a/+');
  assert.equal(routeFilter('a/+', subOpts()), 'a/+');
});

test('deliveryFor: granted QoS is the smaller of message and subscription, or the subscription with upgrade_qos', () => {
  const m = message('t', 2);
  assert.equal(deliveryFor(m, subOpts(1), false, undefined, false).qos, 1);
  assert.equal(deliveryFor(message('t', 0), subOpts(2), false, undefined, false).qos, 0);
  assert.equal(deliveryFor(message('t', 0), subOpts(2), false, undefined, true).qos, 2);
  assert.deepEqual(deliveryFor(m, subOpts(1, { subId: 7 }), true, 'g/t', false).subIds, [7]);
});

test('Router: counts subscriptions and topics; shared members are counted once each', () => {
  const n = node();
  n.sub('a', 'x/+', subOpts());
  n.sub('b', 'x/+', subOpts());
  n.sub('c', '$share/g/x/#', subOpts(0, { share: 'g' }));
  n.sub('d', '$share/g/x/#', subOpts(0, { share: 'g' }));
  assert.equal(n.router.subscriptionCount, 4);
  assert.equal(n.router.topicCount, 2);
  assert.deepEqual(n.routes.local(), [
    { filter: 'x/+', group: undefined },
    { filter: 'x/#', group: 'g' },
  ]);
  n.routes.remove('a', 'x/+', subOpts());
  n.routes.remove('b', 'x/+', subOpts());
  assert.deepEqual(n.routes.local(), [{ filter: 'x/#', group: 'g' }]);
});

test('publish: every matching plain subscription gets it at its granted QoS; the count says how many', () => {
  const n = node();
  n.sub('a', 's/+', subOpts(1));
  n.sub('b', 's/#', subOpts(0));
  n.sub('c', 'other', subOpts(2));
  assert.equal(n.dispatcher.publish(message('s/1', 2)), 2);
  assert.deepEqual(n.got('a'), ['s/1@1']);
  assert.deepEqual(n.got('b'), ['s/1@0']);
  assert.deepEqual(n.got('c'), []);
});

test('publish: No Local and ignore_loop_deliver keep a message from its publisher; no subscriber counts a drop', () => {
  const n = node();
  n.sub('pub', 't', subOpts(0, { nl: true }));
  assert.equal(n.dispatcher.publish(message('t', 0, { from: 'pub' })), 0);
  assert.equal(n.stats.droppedBy.get('no_subscribers'), 1);
  const loop = node({ ignoreLoopDeliver: true });
  loop.sub('pub', 't', subOpts());
  assert.equal(loop.dispatcher.publish(message('t', 0, { from: 'pub' })), 0);
});

test('publish: one member per shared group, round robin per publisher, connected members first', () => {
  const n = node();
  n.sub('m1', '$share/g/j/#', subOpts(1, { share: 'g' }));
  n.sub('m2', '$share/g/j/#', subOpts(1, { share: 'g' }));
  n.sub('off', '$share/g/j/#', subOpts(1, { share: 'g' }), false);
  const from = { rrCounters: undefined };
  for (let i = 0; i < 4; i++) assert.equal(n.dispatcher.publish(message(`j/${i}`, 1), from), 1);
  // the counter walks m1, m2, off, m1: the offline member's turn goes to the next connected one
  assert.deepEqual(n.got('m1'), ['j/0@1', 'j/2@1', 'j/3@1']);
  assert.deepEqual(n.got('m2'), ['j/1@1']);
  assert.equal(n.registry.sessions.get('off')!.mqueue.length, 0, 'the offline member got nothing while others were connected');
});

test('redispatchShared: a leaving member’s shared messages go to another member, or stay with a persistent session', () => {
  const n = node();
  const leaving = n.sub('m1', '$share/g/q', subOpts(1, { share: 'g' }));
  n.sub('m2', '$share/g/q', subOpts(1, { share: 'g' }));
  const d = deliveryFor(message('q', 1), subOpts(1), false, 'g/q', false);
  n.dispatcher.redispatchShared(leaving, [d]);
  assert.deepEqual(n.got('m2'), ['q@1']);
  assert.deepEqual(n.got('m1'), []);
  const alone = node();
  const only = alone.sub('solo', '$share/h/q', subOpts(1, { share: 'h' }), false);
  alone.dispatcher.redispatchShared(only, [deliveryFor(message('q', 1), subOpts(1), false, 'h/q', false)]);
  assert.equal(only.mqueue.length, 1, 'kept with the offline persistent session');
});

test('dispatchLocal: a forwarded message reaches plain subscribers and only the shared groups named', () => {
  const n = node();
  n.sub('a', 'f/#', subOpts(0));
  n.sub('g1', '$share/g/f/#', subOpts(0, { share: 'g' }));
  n.sub('h1', '$share/h/f/#', subOpts(0, { share: 'h' }));
  assert.equal(n.dispatcher.dispatchLocal(message('f/1'), ['g/f/#']), 2);
  assert.deepEqual(n.got('a'), ['f/1@0']);
  assert.deepEqual(n.got('g1'), ['f/1@0']);
  assert.deepEqual(n.got('h1'), []);
  n.dispatcher.dispatchLocal(message('f/2'), ['nope/f/#']);
  assert.equal(n.stats.droppedBy.get('no_subscribers'), 1);
});

test('sendRetained follows Retain Handling and never serves shared subscriptions; aclCheck filters through authorizeDelivery', () => {
  const n = node({}, { authorizeDelivery: (_id, topic) => topic !== 'r/secret' });
  n.retainer.retain({ ...message('r/1', 1), retain: true });
  n.retainer.retain({ ...message('r/secret', 1), retain: true });
  const s = n.sub('a', 'r/#', subOpts(1));
  n.dispatcher.sendRetained(s, 'r/#', subOpts(1, { rh: 1 }), false);
  assert.deepEqual(n.got('a'), [], 'rh 1: only for a new subscription');
  n.dispatcher.sendRetained(s, 'r/#', subOpts(1, { rh: 2 }), true);
  assert.deepEqual(n.got('a'), [], 'rh 2: never');
  n.dispatcher.sendRetained(s, 'r/#', subOpts(1, { share: 'g' }), true);
  assert.deepEqual(n.got('a'), [], 'shared: never');
  n.dispatcher.sendRetained(s, 'r/#', subOpts(1, { aclCheck: true }), true);
  assert.deepEqual(n.got('a'), ['r/1@1']);
});

test('message.publish and message.dropped are emitted only to listeners; $SYS drops are not', () => {
  const n = node();
  const seen: string[] = [];
  n.events.on('message.publish', (m) => seen.push(`pub:${m.topic}`));
  n.events.on('message.dropped', (m, r) => seen.push(`drop:${m.topic}:${r}`));
  n.dispatcher.publish(message('nobody'));
  n.dispatcher.publish(message('$SYS/x'));
  assert.deepEqual(seen, ['pub:nobody', 'drop:nobody:no_subscribers', 'pub:$SYS/x']);
});
