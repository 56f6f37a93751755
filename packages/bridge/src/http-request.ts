/**
 * One HTTP request with a body, as the webhook sends its events and the rule engine's HTTP
 * actions send their outputs: a timeout or an abort signal, the response body drained (so
 * the connection is reused), and the outcome as a status or a network error, never a throw.
 */
export interface HttpOutcome {
  /** The response status; undefined when there was no response (refused, reset, timed out). */
  status: number | undefined;
  /** Why there was no response. */
  error?: string;
}

export async function httpRequest(url: string, init: { method: string; headers: Record<string, string>; body: string | undefined; signal: AbortSignal }): Promise<HttpOutcome> {
  try {
    const res = await fetch(url, init);
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  } catch (err) {
    return { status: undefined, error: (err as Error).message };
  }
}
