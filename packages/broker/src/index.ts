export { createBroker, Broker } from './broker.js';
export type { BrokerEvents, DisconnectReason } from './broker.js';
export type { BrokerConfig, BrokerOptions, ListenerOptions, MqttOptions, SysOptions, SharedStrategy } from './options.js';
export { DEFAULT_MQTT, DEFAULT_SYS } from './options.js';
export type { BrokerHooks, ClientInfo, AuthenticateRequest, AuthResult, AuthorizeAction } from './hooks.js';
export type { Message } from './message.js';
