import * as vscode from 'vscode';

/** Says why an action needs a trusted workspace, with the action that grants trust (Restricted Mode offers none by itself). */
export function warnUntrusted(message: string): void {
  void vscode.window.showWarningMessage(message, 'Manage Workspace Trust').then((pick) => {
    if (pick) void vscode.commands.executeCommand('workbench.trust.manage');
  });
}
