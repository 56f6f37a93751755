import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The broker package's version, as `$SYS/.../version` and logs report it. */
export const VERSION: string = (require('../package.json') as { version: string }).version;
