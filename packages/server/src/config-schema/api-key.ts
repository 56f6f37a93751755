/**
 * `api_key`: API keys loaded at start.
 */
import { optionalStr, type SchemaNode } from '../schema-dsl.js';

export const apiKeySchema = {
  bootstrap_file: optionalStr({
    default: undefined,
    docDefault: 'none',
    description: 'File of `key:secret` lines, one API key each, loaded at start. Without a key every `/api/v5` request is refused (probes and metrics stay open).',
  }),
} as const satisfies SchemaNode;
