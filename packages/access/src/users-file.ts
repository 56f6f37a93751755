/** A user file as EMQX exports it: a JSON list, or CSV with a header (user_id, password or password_hash, salt, is_superuser). */

/** Throws (Error, naming `name`) when the text is neither. */
export function parseUsersFile(text: string, name: string): Record<string, string | boolean>[] {
  if (/\.json$/i.test(name) || text.trimStart().startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).message}`);
    }
    if (!Array.isArray(list)) throw new Error(`${name}: expected a JSON list of users`);
    return list as Record<string, string | boolean>[];
  }
  const [header, ...rows] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const cols = (header ?? '').split(',').map((h) => h.trim());
  if (!cols.includes('user_id')) throw new Error(`${name}: the first line names the columns (user_id,password_hash,salt,is_superuser)`);
  return rows.map((row) => {
    const cells = row.split(',');
    const u: Record<string, string | boolean> = {};
    cols.forEach((col, i) => {
      const v = (cells[i] ?? '').trim();
      if (v !== '') u[col] = col === 'is_superuser' ? v === 'true' : v;
    });
    return u;
  });
}
