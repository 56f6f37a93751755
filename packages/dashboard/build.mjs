/**
 * Builds the dashboard page: type-checks ui/ (tsc), bundles it with esbuild into
 * dist/www (hashed file names, one script, one CSS file) and writes index.html pointing
 * at them. Prints what a browser
 * downloads, gzipped. Run by the root `prepare` (npm ci) and the Dockerfile.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'www');
const require = createRequire(import.meta.url);

if (!process.argv.includes('--no-check')) {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(here, 'ui')], { stdio: 'inherit' });
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const result = await build({
  entryPoints: [join(here, 'ui', 'main.tsx')],
  bundle: true,
  minify: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox115', 'safari16'],
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

let js;
let css;
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  // dynamic imports are entry points too: the page's is main.tsx
  if (o.entryPoint?.endsWith('ui/main.tsx')) {
    js = '/' + relative(out, join(process.cwd(), file)).split('\\').join('/');
    if (o.cssBundle) css = '/' + relative(out, join(process.cwd(), o.cssBundle)).split('\\').join('/');
  }
}
const html = readFileSync(join(here, 'ui', 'index.html'), 'utf8')
  .replace('<!--CSS-->', css ? `<link rel="stylesheet" href="${css}">` : '')
  .replace('<!--JS-->', `<script type="module" src="${js}"></script>`);
writeFileSync(join(out, 'index.html'), html);
copyFileSync(join(here, 'ui', 'favicon.svg'), join(out, 'favicon.svg'));

// what a browser downloads, gzipped (the HTTP API serves these files gzipped)
const gz = (f) => gzipSync(readFileSync(f), { level: 9 }).length;
let total = gz(join(out, 'index.html')) + gz(join(out, 'favicon.svg'));
for (const file of Object.keys(result.metafile.outputs)) total += gz(join(process.cwd(), file));
console.log(`dashboard built in ${out}: ${(total / 1024).toFixed(1)} kB gzipped in all`);
