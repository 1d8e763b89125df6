// Builds the console into dist/: the page, one script (the console and Leaflet) and one style sheet. Run by
// `make console` after `npm ci`; nothing here fetches anything.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';

const out = 'dist';
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) {
  if (f !== 'placeholder.html') rmSync(`${out}/${f}`, { recursive: true });
}
await build({
  entryPoints: { console: 'web/console.js' },
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ['es2020'],
  outdir: out,
  // Leaflet's style sheet names a few images; they go inside the sheet, so the page asks for nothing else.
  loader: { '.png': 'dataurl', '.svg': 'dataurl' },
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('web/index.html', `${out}/index.html`);
console.log('console: built into dist/');
