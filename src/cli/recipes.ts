import { parseArgs } from 'node:util';
import { BUILTIN_RECIPE_NAMES, builtinRecipe, recipeToJson } from '../core/merge/recipes';
import { Command } from './usage';

export const recipesCommand: Command = {
  name: 'recipes',
  summary: 'list the built-in merge recipes',
  usage: 'taia recipes [--json]',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
    const recipes = BUILTIN_RECIPE_NAMES.map((n) => builtinRecipe(n)!);
    if (values.json) process.stdout.write(JSON.stringify(recipes.map(recipeToJson), null, 2) + '\n');
    else
      for (const r of recipes)
        process.stdout.write(`${r.name.padEnd(12)} ${r.description}\n${''.padEnd(12)} (${r.origin})\n`);
    return 0;
  },
};
