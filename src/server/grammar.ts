// The TextMate grammar of experiment files (syntaxes/taia-experiment.tmLanguage.json), derived from the
// schema so the highlighted keys and values cannot drift from it; a unit test keeps the file equal to
// experimentGrammar() (TAIA_WRITE_GRAMMAR=1 rewrites it). YAML itself comes from VS Code's YAML grammar.
import { BUILTIN_RECIPE_NAMES } from '../core/merge/recipes';
import { ROOT_FIELDS, Spec } from './schemaLookup';

export const SCOPE = 'source.taia-experiment';

/** A key not preceded by a name character or quote, followed by its `:`. */
const keyPattern = (names: readonly string[]): string => `(?<![\\w.\\-"'])(${names.join('|')})(?=[ \\t]*:(?:[ \\t]|$))`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

function allFields(fields: Record<string, Spec>): [string, Spec][] {
  return Object.entries(fields).flatMap(([key, spec]): [string, Spec][] => [
    [key, spec],
    ...(spec.type === 'section' ? allFields(spec.fields) : []),
  ]);
}

/** Keys whose values are names: enum fields, and merge.recipe with the built-in recipes. */
function valueSets(): [string, readonly string[]][] {
  const enums = allFields(ROOT_FIELDS).flatMap(([key, spec]): [string, readonly string[]][] =>
    spec.type === 'enum' ? [[key, spec.values]] : [],
  );
  return [...enums, ['recipe', BUILTIN_RECIPE_NAMES]];
}

export function experimentGrammar(): Record<string, unknown> {
  const keys = [...new Set(allFields(ROOT_FIELDS).map(([key]) => key))].sort(
    (a, b) => b.length - a.length || a.localeCompare(b),
  );
  return {
    $comment: 'Generated from src/core/experiment/schema.ts by src/server/grammar.ts: do not edit.',
    name: 'TAIA Experiment',
    scopeName: SCOPE,
    patterns: [{ include: 'source.yaml' }],
    // Injected so the rules apply inside the YAML grammar's mappings (block and flow), before its own rules (`L:`);
    // only inside them, so the YAML grammar still sees the first key and opens its document and mapping.
    injections: {
      [`L:${SCOPE} meta.mapping -comment`]: { patterns: [{ include: '#values' }, { include: '#keys' }] },
    },
    repository: {
      keys: { match: keyPattern(keys.map(escape)), name: 'support.type.property-name.taia-experiment' },
      values: {
        patterns: valueSets().map(([key, values]) => ({
          match: `${keyPattern([escape(key)]).replace(/\(\?=.*$/, '')}[ \\t]*(:)[ \\t]+(["']?)(${values.map(escape).join('|')})\\3(?=[ \\t]*(?:#|$))`,
          captures: {
            1: { name: 'support.type.property-name.taia-experiment' },
            2: { name: 'punctuation.separator.key-value.mapping.yaml' },
            4: { name: 'support.constant.taia-experiment' },
          },
        })),
      },
    },
  };
}
