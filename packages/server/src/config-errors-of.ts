/** For tests: the formatted errors of a configuration that must not load. */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.js';
import { formatIssue } from './config-validate.js';

export function errorsOf(options: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(options);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map(formatIssue);
  }
  assert.fail('the configuration loaded');
}
