import * as vscode from 'vscode';

/**
 * The environment that tells the trainer which Python runs the PyTorch engine: taiaLab.python.interpreter,
 * else the Python extension's selected environment, else nothing (the trainer's python3).
 */
export function pythonEnvironment(): Record<string, string> | undefined {
  const configured = vscode.workspace.getConfiguration('taiaLab.python').get<string>('interpreter', '').trim();
  const api = vscode.extensions.getExtension<{ environments?: { getActiveEnvironmentPath(): { path: string } } }>(
    'ms-python.python',
  );
  const python = configured || (api?.isActive ? api.exports.environments?.getActiveEnvironmentPath().path : undefined);
  return python ? { TAIA_PYTHON: python } : undefined;
}
