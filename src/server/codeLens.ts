// Train, Merge and Evaluate above the first line: they run the extension's commands on this file.
// taiaLab.startTraining takes the file's URI (sent as a string; the VS Code client turns it into a
// vscode.Uri); merge and evaluate are given `{ experiment: <fsPath> }`.
import { CodeLens } from 'vscode-languageserver';
import { fsPathOf } from './uri';
import { COMMANDS } from '../extension/commands';

export function codeLenses(uri: string): CodeLens[] {
  const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const experiment = { experiment: fsPathOf(uri) };
  return [
    { range, command: { title: 'Train', command: COMMANDS.startTraining, arguments: [uri] } },
    { range, command: { title: 'Merge', command: COMMANDS.merge, arguments: [experiment] } },
    { range, command: { title: 'Evaluate', command: COMMANDS.evaluate, arguments: [experiment] } },
  ];
}
