import * as path from 'node:path';
import { readdirSync } from 'node:fs';
import Mocha from 'mocha';

/** Runs every *.test.js beside `dir` in one Mocha (tdd) run inside the extension host. */
export function runMochaSuite(dir: string): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 20000 });
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.test.js'))
    .sort())
    mocha.addFile(path.join(dir, f));
  return new Promise((resolve, reject) =>
    mocha.run((failures) => (failures ? reject(new Error(`${failures} test(s) failed`)) : resolve())),
  );
}
