/** `npm run docs:config`: writes docs/configuration.md from the schema. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { CONFIG_DOC_URL, renderConfigDoc } from './config-doc.js';

const file = fileURLToPath(CONFIG_DOC_URL);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, renderConfigDoc());
process.stdout.write(`wrote ${file}\n`);
