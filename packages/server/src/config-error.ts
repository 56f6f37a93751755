import { formatIssue, type ConfigIssue } from './config-validate.js';

/** Thrown with every configuration problem found; `message` lists them one per line. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
