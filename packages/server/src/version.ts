/** Vireo's version, read from this package's package.json so it has one source. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // dist/version.js → ../package.json is packages/server/package.json.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export const VERSION: string = readVersion();
