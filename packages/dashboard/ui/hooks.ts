/** Small hooks: polling the API while the page is visible, the hash route, and actions with feedback. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Answer } from './api.js';

export interface Poll<T> {
  data?: T;
  error?: ApiError;
  /** nodes that did not answer the last call */
  partial: string[];
  loading: boolean;
  reload: () => void;
}

/**
 * Calls `load` now and every `everyMs` (not while the tab is hidden); a new `key` reloads at
 * once. The last good data stays shown while a later call fails.
 */
export function usePoll<T>(load: () => Promise<Answer<T>>, everyMs: number, key?: unknown[]): Poll<T>;
export function usePoll<T>(load: () => Promise<T>, everyMs: number, key?: unknown[]): Poll<T>;
export function usePoll<T>(load: () => Promise<T | Answer<T>>, everyMs: number, key: unknown[] = []): Poll<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; partial: string[]; loading: boolean }>({ partial: [], loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.hidden) {
        timer = setTimeout(run, 1000);
        return;
      }
      try {
        const r = await loadRef.current();
        const isAnswer = typeof r === 'object' && r !== null && 'partial' in r && 'data' in r;
        if (live) setState({ data: isAnswer ? (r as { data: T }).data : (r as T), partial: isAnswer ? (r as { partial: string[] }).partial : [], loading: false });
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(0, 'ERROR', String(err));
        if (live) setState((s) => ({ ...s, error: e, loading: false }));
      }
      if (live && everyMs > 0) timer = setTimeout(run, everyMs);
    };
    setState((s) => ({ ...s, loading: true, error: undefined }));
    void run();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [everyMs, tick, ...key]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** The route: the part of the URL after `#`, split on `/` (`#/clients/abc` → ['clients', 'abc']). */
export function useRoute(): string[] {
  const read = () =>
    location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const go = (...parts: string[]) => {
  location.hash = '#/' + parts.map(encodeURIComponent).join('/');
};

/** Runs an action, keeping its error (or success note) to show beside the button that started it. */
export function useAction(): { busy: boolean; error: string | undefined; note: string | undefined; run: (fn: () => Promise<string | void>) => Promise<boolean> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const run = useCallback(async (fn: () => Promise<string | void>) => {
    setBusy(true);
    setError(undefined);
    setNote(undefined);
    try {
      const n = await fn();
      if (n) setNote(n);
      return true;
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, note, run };
}
