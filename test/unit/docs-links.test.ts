/**
 * Every relative link in the Markdown docs leads somewhere: the file exists, and an anchor names a
 * heading of that file (or an explicit `<a id>`), slugged the way GitHub slugs them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import { Lexer, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** README.md, every Markdown file under docs/ and bench/README.md. */
function documents(): string[] {
  const docs = existsSync(path.join(ROOT, 'docs'))
    ? readdirSync(path.join(ROOT, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', 'bench/README.md', ...docs];
}

function walk(tokens: readonly Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token);
    const nested = (token as { tokens?: Token[] }).tokens;
    if (nested) walk(nested, visit);
    if (token.type === 'list') for (const item of (token as Tokens.List).items) walk(item.tokens, visit);
    if (token.type === 'table') {
      const table = token as Tokens.Table;
      for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, visit);
    }
  }
}

/** The anchors a document offers: its headings, slugged as GitHub does, and explicit ids. */
function anchorsOf(file: string): Set<string> {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walk(new Lexer().lex(text), (token) => {
    if (token.type === 'heading') anchors.add(slugger.slug((token as Tokens.Heading).text.replace(/`/g, '')));
  });
  for (const match of text.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  return anchors;
}

/** Every link target in a document (code blocks and inline code excluded). */
function linksOf(file: string): string[] {
  const links: string[] = [];
  walk(new Lexer().lex(readFileSync(path.join(ROOT, file), 'utf8')), (token) => {
    if (token.type === 'link' || token.type === 'image') links.push((token as Tokens.Link).href);
  });
  return links;
}

describe('relative links in the docs', () => {
  const files = documents();

  it('finds the documents and their links', () => {
    expect(files).toContain('README.md');
    expect(files.flatMap(linksOf).length).toBeGreaterThan(10);
  });

  it.each(files)('%s: every relative link and anchor resolves', (file) => {
    const broken: string[] = [];
    for (const href of linksOf(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http:, https:, mailto:
      const [target = '', anchor] = href.split('#');
      const resolved =
        target === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURI(target)));
      const absolute = path.join(ROOT, resolved);
      if (!existsSync(absolute)) {
        broken.push(`${href} (no file ${resolved})`);
        continue;
      }
      if (
        anchor !== undefined &&
        anchor !== '' &&
        statSync(absolute).isFile() &&
        resolved.endsWith('.md') &&
        !anchorsOf(resolved).has(decodeURIComponent(anchor))
      ) {
        broken.push(`${href} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
