import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/stack.js';
import { ExitCode } from '../../../src/lib/errors/index.js';

// docs/CONTRACT.md is the project's own copy of the outside contract. Every citation of it in the
// tree must name that file, and every section it cites must exist.
const contract = readFileSync(join(REPO_ROOT, 'docs/CONTRACT.md'), 'utf8');
const sections = new Set([...contract.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|js|md|yaml|yml|sql|py|sh)$/.test(name)) yield p;
  }
}

const roots = ['src', 'test', 'templates', 'dags', 'docs', 'scripts', 'bench'].map((d) => join(REPO_ROOT, d));
const citations = roots.flatMap((root) =>
  [...files(root)]
    .filter((f) => !f.endsWith('contract.test.ts'))
    .flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/([\w./-]*)CONTRACT\.md(?:\)?\s*§(\d+))?/g)].map((m) => ({
        file: relative(REPO_ROOT, file),
        path: `${m[1]}CONTRACT.md`,
        section: m[2],
      })),
    ),
);

describe('docs/CONTRACT.md', () => {
  it('is cited by its path, and every cited section exists', () => {
    expect(citations.length).toBeGreaterThan(20);
    const bad = citations.filter(
      (c) =>
        !/(^|\/)docs\/CONTRACT\.md$/.test(c.path) &&
        !(c.file.startsWith('docs/') && c.path === 'CONTRACT.md'),
    );
    expect(bad).toEqual([]);
    const missing = citations.filter((c) => c.section !== undefined && !sections.has(c.section));
    expect(missing).toEqual([]);
  });

  it('names every command the CLI has', () => {
    const commands: string[] = [];
    const walk = (dir: string, prefix: string[]) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p, [...prefix, name]);
        else if (name.endsWith('.ts')) commands.push([...prefix, name.replace(/\.ts$/, '')].join(' '));
      }
    };
    walk(join(REPO_ROOT, 'src/commands'), []);
    const section1 = contract.slice(contract.indexOf('## 1.'), contract.indexOf('## 2.'));
    for (const c of commands) {
      const [topic, sub] = c.split(' ');
      // `connectors apply` / `diff` / …: a topic row lists its subcommands after the first one.
      const named =
        section1.includes(`shopdata ${c}`) ||
        (sub !== undefined && section1.includes(`\`shopdata ${topic} `) && section1.includes(`\`${sub}\``));
      expect(named, `command "${c}" is not in docs/CONTRACT.md §1`).toBe(true);
    }
  });

  it('lists every SHOPDATA_* variable the configuration reads', () => {
    const config = readFileSync(join(REPO_ROOT, 'src/lib/config/index.ts'), 'utf8');
    const vars = [...new Set([...config.matchAll(/env: '(SHOPDATA_[A-Z0-9_]+)'/g)].map((m) => m[1]!))];
    expect(vars.length).toBeGreaterThan(10);
    const section2 = contract.slice(contract.indexOf('## 2.'), contract.indexOf('## 3.'));
    const listed = (v: string) =>
      section2.includes(v) || section2.includes(v.replace(/^SHOPDATA_KAFKA_SASL(_[A-Z]+)$/, '$1'));
    expect(vars.filter((v) => !listed(v))).toEqual([]);
  });

  it('has the exit codes the error classes use', () => {
    const codes = Object.values(ExitCode).map(String);
    expect(codes).toEqual(['0', '1', '2', '3', '130']);
    const section3 = contract.slice(contract.indexOf('## 3.'), contract.indexOf('## 4.'));
    for (const code of codes)
      expect(section3, `exit code ${code}`).toMatch(new RegExp(`^\\| ${code} +\\|`, 'm'));
  });
});
