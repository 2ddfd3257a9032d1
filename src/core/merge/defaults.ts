// Defaults of a merge, defined once for the CLI, the extension, the experiment and study files
// (package.json's settings repeat them, as VS Code needs them there).
import { parseSize } from '../util/size';

/** The recipe a merge uses when none is named: the paper's rule. */
export const DEFAULT_RECIPE = 'taia';

/** Most bytes of tensor data per output shard, as Hugging Face's save_pretrained writes it. */
export const DEFAULT_MAX_SHARD_SIZE = '5GB';
export const DEFAULT_MAX_SHARD_BYTES = parseSize(DEFAULT_MAX_SHARD_SIZE);
