/**
 * "Did you mean …?" for misspelt config keys and enum values: a typo in a key must
 * fail loudly, and the error should point at the fix.
 */

/** Edit distance (insert, delete, substitute, each cost 1). Inputs are short key paths. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf('.')));
const lastOf = (path: string): string => path.slice(path.lastIndexOf('.') + 1);

/**
 * The known path closest to `unknown`, or undefined when nothing is plausibly meant.
 * Close means a small edit distance over the whole path, or the same parent with one
 * last segment containing the other (`mqtt.inflight` → `mqtt.max_inflight`).
 */
export function nearest(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const u = unknown.toLowerCase();
  for (const k of known) {
    let score = levenshtein(u, k);
    const contains = lastOf(k).includes(lastOf(u)) || lastOf(u).includes(lastOf(k));
    if (parentOf(u) === parentOf(k) && contains && lastOf(u).length >= 3) score = Math.min(score, 1.5);
    if (score < bestScore) {
      bestScore = score;
      best = k;
    }
  }
  const limit = Math.max(2, Math.floor(unknown.length / 4));
  return bestScore <= limit ? best : undefined;
}
