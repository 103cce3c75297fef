// docs_links.mjs -- every link of README.md and docs/*.md to a local file or
// an anchor resolves (issue 25 split the README into docs/: a moved section
// must not leave a link pointing at where it was). Anchors follow GitHub's
// rule: the heading in lower case, without punctuation, spaces as hyphens,
// a repeated one suffixed -1, -2, ...
// Usage: node tests/docs_links.mjs [root]; prints the broken links, exits 1
// if any. tests/integration/docs.test.mjs runs checkLinks().
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/* The text outside fenced code blocks, line by line. */
function proseLines(text) {
  let fence = null;
  return text.split('\n').filter((line) => {
    const m = line.match(/^\s*(```+|~~~+)/);
    if (m) {
      if (!fence) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      return false;
    }
    return !fence;
  });
}

export function slug(heading) {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchors(text) {
  const seen = new Map();
  const out = new Set();
  for (const line of proseLines(text)) {
    const m = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/* Links [text](target) outside code blocks and inline code. */
export function links(text) {
  const out = [];
  for (const line of proseLines(text)) {
    const bare = line.replace(/`[^`]*`/g, '');
    for (const m of bare.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]);
  }
  return out;
}

export function docFiles(root) {
  const files = ['README.md'];
  for (const f of readdirSync(path.join(root, 'docs')).sort())
    if (f.endsWith('.md')) files.push(path.join('docs', f));
  return files;
}

export function checkLinks(root) {
  const broken = [];
  const cache = new Map();
  const anchorsOf = (file) => {
    if (!cache.has(file)) cache.set(file, anchors(readFileSync(file, 'utf8')));
    return cache.get(file);
  };
  for (const rel of docFiles(root)) {
    const file = path.join(root, rel);
    for (const link of links(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, mailto:, ...
      const [target, hash] = link.split('#');
      const dest = target ? path.resolve(path.dirname(file), decodeURIComponent(target)) : file;
      if (!existsSync(dest)) {
        broken.push(`${rel}: ${link} (no such file)`);
        continue;
      }
      if (hash !== undefined && dest.endsWith('.md') && statSync(dest).isFile()
          && !anchorsOf(dest).has(decodeURIComponent(hash)))
        broken.push(`${rel}: ${link} (no such heading)`);
    }
  }
  return broken;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const broken = checkLinks(root);
  for (const b of broken) console.log(b);
  process.exit(broken.length ? 1 : 0);
}
