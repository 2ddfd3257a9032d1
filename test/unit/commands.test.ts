import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dirent, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/extension/commands';

const repo = path.resolve(__dirname, '../../..');

test('the command table and package.json contribute the same command IDs, each once', () => {
  const manifest = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf-8')) as {
    contributes: { commands: { command: string }[] };
  };
  const contributed = manifest.contributes.commands.map((c) => c.command);
  const table = Object.values(COMMANDS);
  assert.equal(new Set(table).size, table.length, 'an ID appears twice in the table');
  assert.deepEqual([...contributed].sort(), [...table].sort());
});

test('no command ID is written as a literal outside the table', () => {
  const ids = new Set<string>(Object.values(COMMANDS));
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir, { withFileTypes: true }) as Dirent[]) {
      const p = path.join(dir, name.name);
      if (name.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(path.join('extension', 'commands.ts'))) {
        for (const m of readFileSync(p, 'utf-8').matchAll(
          /(?:registerCommand|executeCommand(?:<[^>]*>)?)\(\s*'([^']+)'|command: '([^']+)'/g,
        )) {
          const id = m[1] ?? m[2];
          if (ids.has(id)) offenders.push(`${path.relative(repo, p)}: ${id}`);
        }
      }
    }
  };
  walk(path.join(repo, 'src'));
  assert.deepEqual(offenders, []);
});
