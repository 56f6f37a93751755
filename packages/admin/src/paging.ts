/** EMQX's paging: `page` (from 1) and `limit` (default 100, at most 10 000); answers `{data, meta}`. */
export interface PageQuery {
  page?: number;
  limit?: number;
}

export interface Page<T> {
  data: T[];
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

export const MAX_LIMIT = 10_000;

export const pageQuerySchema = {
  page: { type: 'integer', minimum: 1, default: 1 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 100 },
} as const;

export function paginate<T>(items: Iterable<T>, q: PageQuery, keep: (item: T) => boolean = () => true): Page<T> {
  const page = q.page ?? 1;
  const limit = q.limit ?? 100;
  const start = (page - 1) * limit;
  const data: T[] = [];
  let count = 0;
  for (const item of items) {
    if (!keep(item)) continue;
    if (count >= start && data.length < limit) data.push(item);
    count++;
  }
  return { data, meta: { page, limit, count, hasnext: start + data.length < count } };
}
