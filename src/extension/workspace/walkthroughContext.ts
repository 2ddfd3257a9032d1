import * as vscode from 'vscode';
import type { ResultsIndex } from '../benchmarks/resultsIndex';
import type { RunsTree } from '../runs/runsTree';
import type { WorkspaceIndex } from './workspaceIndex';

/**
 * Context keys that say what the workspace holds (checkpoints, runs, merged outputs, results); the
 * walkthrough's steps complete on them, so a step done another way (the CLI, a code lens, a demo
 * workspace opened as it is) is ticked too.
 */
export function trackWorkspaceContext(index: WorkspaceIndex, runs: RunsTree, results: ResultsIndex): vscode.Disposable {
  const set = (key: string, value: boolean) =>
    void vscode.commands.executeCommand('setContext', `taiaLab.${key}`, value);
  const checkpoints = () => {
    set(
      'hasCheckpoints',
      index.checkpointList.some((e) => e.summary),
    );
    set(
      'hasMerges',
      index.checkpointList.some((e) => e.summary?.kind === 'merged'),
    );
  };
  const subs = [
    index.onDidChange(checkpoints),
    runs.onDidUpdate((r) => set('hasRuns', r.length > 0)),
    results.onDidChange(() =>
      set(
        'hasResults',
        results.list.some((e) => e.models?.length),
      ),
    ),
  ];
  return vscode.Disposable.from(...subs);
}
