// Where a merge goes by default (issue 18: a run checkpoint's merge landed inside the run's checkpoints/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mergedOutputFor } from '../../src/core/runs/mergedOutput';

test('a run checkpoint merges into merged/<run>-<checkpoint>-<recipe> of its workspace folder', () => {
  assert.equal(
    mergedOutputFor('/ws/.taia/runs/2026-01-01T00-00-00-tiny/checkpoints/checkpoint-150', 'taia'),
    path.join('/ws', 'merged', '2026-01-01T00-00-00-tiny-checkpoint-150-taia'),
  );
  assert.equal(
    mergedOutputFor('/ws/.taia/runs/r/checkpoints/checkpoint-5/', 'merged'),
    path.join('/ws', 'merged', 'r-checkpoint-5-merged'),
  );
});

test('any other fine-tune merges beside itself', () => {
  assert.equal(mergedOutputFor('/ws/models/ft', 'taia'), path.join('/ws/models', 'ft-taia'));
  assert.equal(
    mergedOutputFor('/ws/.taia/runs/r/other/checkpoint-5', 'taia'),
    path.join('/ws/.taia/runs/r/other', 'checkpoint-5-taia'),
  );
  assert.equal(
    mergedOutputFor('/ws/.taia/runs/r/checkpoints', 'taia'),
    path.join('/ws/.taia/runs/r', 'checkpoints-taia'),
  );
});
