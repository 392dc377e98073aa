import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const REPO = join(__dirname, '..');
const documents = ['README.md', 'BENCHMARKS.md', 'clients/README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Every Markdown link target in a document that is not a URL or an in-page anchor. */
function relativeLinks(text: string): string[] {
  const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  return targets.filter((t) => !/^(https?:|mailto:|#)/.test(t)).map((t) => t.split('#')[0]);
}

describe('the README and docs/', () => {
  it.each(documents)('%s links only to files of this repository that exist', (doc) => {
    const text = readFileSync(join(REPO, doc), 'utf8');
    for (const target of relativeLinks(text)) {
      const path = resolve(REPO, dirname(doc), target);
      expect({ target, inside: !relative(REPO, path).startsWith('..') }).toEqual({ target, inside: true });
      expect({ target, exists: existsSync(path) }).toEqual({ target, exists: true });
    }
  });

  it("runs the several-pods example on a Redis port of its own, not the default 6379 a machine's Redis already holds", () => {
    const section = readFileSync(join(REPO, 'README.md'), 'utf8').split('## Several pods with Redis')[1].split('\n## ')[0];
    const ports = [...section.matchAll(/redis-server --port (\d+)/g)].map((m) => m[1]);
    expect(ports.length).toBeGreaterThan(0);
    expect(ports).not.toContain('6379');
    expect(section).not.toMatch(/redis:\/\/127\.0\.0\.1:6379/);
  });

  it('mentions the clients package', () => {
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toMatch(/`clients\/`/);
  });
});
