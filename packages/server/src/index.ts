/** @vireo/server as a library: configuration loading and the broker wiring, for embedding and tests. */
export { loadConfig, ConfigError, toBrokerConfig } from './config.js';
export type { LoadOptions, LoadedConfig, VireoConfig, ConfigIssue } from './config.js';
export { configSchema } from './config-schema.js';
export { KNOWN_COOKIES, weakCookie } from './cookie.js';
export { envNameOf, CONFIG_FILE_ENV } from './config-env.js';
export { formatIssue } from './config-validate.js';
export { parseDuration, parseByteSize, parseBind } from './config-values.js';
export type { Bind } from './schema-dsl.js';
export { createLogger } from './logger.js';
export type { LoggerOptions } from './logger.js';
export { renderConfigDoc } from './config-doc.js';
export { VERSION } from './version.js';
