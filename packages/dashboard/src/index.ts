/**
 * The built dashboard: a static page (packages/dashboard/ui, bundled by build.mjs into
 * dist/www) that the HTTP API serves at `/`. It uses only the public `/api/v5` API.
 */
import { fileURLToPath } from 'node:url';

/** Where build.mjs writes the page's files. */
export const ASSETS_DIR = fileURLToPath(new URL('./www', import.meta.url));
