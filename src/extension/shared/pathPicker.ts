import * as path from 'node:path';
import * as vscode from 'vscode';

export interface PathItem extends vscode.QuickPickItem {
  path: string;
}

export interface PathPickOptions {
  title: string;
  /** What the workspace lacks when there is nothing to pick, e.g. "No checkpoints found in the workspace". */
  missing: string;
  /** Browse for folders (checkpoints) rather than files (datasets, task files). */
  folders: boolean;
  filters?: Record<string, string[]>;
}

const BROWSE = '$(folder-opened) Browse…';

/**
 * A pick among `items` that also takes a typed absolute path and offers Browse… (a file dialog), so an
 * empty or incomplete workspace index never dead-ends. With nothing to pick, the placeholder says
 * what is missing. Resolves to the path chosen, or undefined when dismissed.
 */
export function pickPath(items: PathItem[], opts: PathPickOptions): Promise<string | undefined> {
  const qp = vscode.window.createQuickPick<PathItem>();
  qp.title = opts.title;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  const browse: PathItem = {
    label: BROWSE,
    description: opts.folders ? 'choose a folder' : 'choose a file',
    path: '',
    alwaysShow: true,
  };
  qp.items = [...items, { label: '', kind: vscode.QuickPickItemKind.Separator, path: '' }, browse];
  qp.placeholder = items.length
    ? 'Pick one, type an absolute path, or Browse…'
    : `${opts.missing}. Type an absolute path or Browse…`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: string | undefined) => {
      if (done) return;
      done = true;
      resolve(value);
      qp.hide();
    };
    qp.onDidAccept(async () => {
      const picked = qp.selectedItems[0];
      const typed = qp.value.trim();
      // Browse… always shows, so a typed path leaves it as the only item: the typed path wins.
      if (typed && (!picked || picked === browse)) {
        if (path.isAbsolute(typed)) finish(typed);
        else qp.placeholder = `${typed} is not an absolute path`;
      } else if (picked && picked !== browse) finish(picked.path);
      else {
        done = true;
        qp.hide();
        const uris = await vscode.window.showOpenDialog({
          canSelectFiles: !opts.folders,
          canSelectFolders: opts.folders,
          canSelectMany: false,
          title: opts.title,
          filters: opts.filters,
          defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        });
        resolve(uris?.[0]?.fsPath);
      }
    });
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}
