import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEMO_EXPERIMENT, writeDemoWorkspace } from '../../core/demo/workspace';

/** Arguments for creating the demo workspace without prompts (tests). */
export interface DemoArgs {
  dir: string;
}

/**
 * TAIA: Create the demo workspace — the base model that ships with the extension, word-game
 * fine-tuning data, the downstream tasks and the experiment file, in a new `demo-workspace` folder;
 * then offers to open it, where the walkthrough runs train, merge and evaluate step by step.
 * Returns the folder written.
 */
export async function createDemoWorkspaceCommand(extensionPath: string, arg?: DemoArgs): Promise<string | undefined> {
  let dir = arg?.dir;
  if (!dir) {
    const parent = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Create demo-workspace here',
      title: 'TAIA Lab demo: where to create demo-workspace/',
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    if (!parent?.[0]) return undefined;
    dir = path.join(parent[0].fsPath, 'demo-workspace');
  }
  // Never into a folder that holds something: the demo must not mix with or overwrite other files.
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    void vscode.window.showErrorMessage(`${dir} exists and is not empty; choose another place for the demo workspace.`);
    return undefined;
  }
  try {
    writeDemoWorkspace(dir, path.join(extensionPath, 'demo', 'base-model'));
  } catch (e) {
    void vscode.window.showErrorMessage(`The demo workspace could not be written: ${(e as Error).message}`);
    return undefined;
  }
  if (!arg) {
    const open = await vscode.window.showInformationMessage(
      `Created ${dir}: a base model, word-game data, three downstream tasks and ${DEMO_EXPERIMENT}.`,
      'Open Folder',
    );
    if (open) await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(dir));
  }
  return dir;
}
