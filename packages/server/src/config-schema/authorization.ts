/**
 * `authorization`: the ACL source and what happens on no match or a denial.
 */
import { oneOf, optionalStr, type SchemaNode } from '../schema-dsl.js';

export const authorizationSchema = {
  no_match: oneOf({ default: 'allow', values: ['allow', 'deny'], description: 'What happens when no rule matches a PUBLISH or SUBSCRIBE (EMQX default: allow).' }),
  deny_action: oneOf({
    default: 'ignore',
    values: ['ignore', 'disconnect'],
    description: 'What a denied PUBLISH does besides being dropped: `ignore` (PUBACK 0x87 in v5) or `disconnect` (DISCONNECT 0x87).',
  }),
  sources: {
    file: {
      path: optionalStr({
        default: undefined,
        docDefault: 'none',
        description:
          'ACL file (YAML or JSON list of rules; see docs/security.md). Unset: no rules, and no authorization check on any message. Re-read by `vireo ctl acl reload`.',
      }),
    },
  },
} as const satisfies SchemaNode;
