// docs.test.mjs -- README.md and docs/*.md (issue 25): every link to a local
// file or heading resolves, and the checker itself catches a broken one.
// Needs no stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLinks, anchors } from '../docs_links.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('every local link and anchor of README.md and docs/ resolves', () => {
  assert.deepEqual(checkLinks(ROOT), []);
});

test('anchors follow GitHub: punctuation dropped, repeats numbered, code ignored', () => {
  const a = anchors('# The delivery promise (message queue)\n## Socket.IO\n### Limits\n' +
                    '```\n# not a heading\n```\n### Limits\n');
  assert.deepEqual([...a], ['the-delivery-promise-message-queue', 'socketio', 'limits', 'limits-1']);
});

test('the checker reports a missing file and a missing heading', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'docs-links-'));
  try {
    mkdirSync(path.join(dir, 'docs'));
    writeFileSync(path.join(dir, 'README.md'),
                  '# Top\n[a](docs/a.md#here) [b](docs/a.md#gone) [c](#top) [d](nope.md) `[e](x.md)`\n');
    writeFileSync(path.join(dir, 'docs', 'a.md'), '# Here\n[back](../README.md#top) [bad](../README.md#none)\n');
    assert.deepEqual(checkLinks(dir), [
      'README.md: docs/a.md#gone (no such heading)',
      'README.md: nope.md (no such file)',
      'docs/a.md: ../README.md#none (no such heading)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
