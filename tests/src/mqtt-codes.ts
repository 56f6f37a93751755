/** Reason codes as a client sees them: PUBACK for a QoS 1 publish, SUBACK per filter. */
import type { MqttClient } from 'mqtt';

/** The PUBACK reason code of a QoS 1 publish (MQTT.js reports codes >= 0x80 as errors). */
export async function pubackCode(c: MqttClient, topic: string, payload = 'x'): Promise<number> {
  try {
    const p = await c.publishAsync(topic, payload, { qos: 1 });
    return (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** The SUBACK codes for `topics` (MQTT.js reports a v5 SUBACK with a failure as an error carrying the packet). */
export async function subackCodes(c: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])))).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}
