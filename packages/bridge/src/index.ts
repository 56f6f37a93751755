export { Webhook } from './webhook.js';
export type { WebhookOptions, WebhookStats } from './webhook.js';
export { WEBHOOK_EVENTS } from './webhook-events.js';
export type { WebhookEvent, PayloadEncoding } from './webhook-events.js';
export { MqttBridge } from './mqtt-bridge.js';
export type { MqttBridgeOptions, MqttBridgeStats, MqttBridgeInfo, BridgeStatus, BridgeTemplates } from './mqtt-bridge.js';
export { compileTemplate } from './bridge-template.js';
export type { Template } from './bridge-template.js';
export { ingressOwner } from './ingress-owner.js';
