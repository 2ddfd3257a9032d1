// The demo's synthetic world: src/core/demo/world.ts, compiled to out/ by `npm run demo` (the extension's
// "Create the demo workspace" uses the same module).
import { createRequire } from 'node:module';

export const { makeWorld, DEMO_CHAT_TEMPLATE } = createRequire(import.meta.url)('../out/src/core/demo/world.js');
