// The LoRA fold's kernel compiled with -mavx2 (esbuild.mjs, on x86-64 only): see lora_fold.c.
#if defined(__x86_64__)
#define FOLD_ROWS fold_rows_avx2
#include "lora_fold_kernel.h"
#endif
