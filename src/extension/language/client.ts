// Starts the experiment-file language server (dist/server.js, its own process, over IPC) the first time
// a `*.taia.yaml` or `*.taia-study.yaml` document is open. vscode-languageclient is imported only then: activation, which also
// happens for the views, pays neither its evaluation nor a server process.
import * as vscode from 'vscode';
import type { LanguageClient, LanguageClientOptions, Middleware } from 'vscode-languageclient/node';
import { COMMANDS } from '../commands';

export const EXPERIMENT_LANGUAGE = 'taia-experiment';
export const STUDY_LANGUAGE = 'taia-study';
const LANGUAGES = [EXPERIMENT_LANGUAGE, STUDY_LANGUAGE];

/** The server sends the Train lens's URI as a string; the command takes a vscode.Uri. */
const middleware: Middleware = {
  async provideCodeLenses(document, token, next) {
    const lenses = await next(document, token);
    for (const lens of lenses ?? []) {
      if (lens.command?.command === COMMANDS.startTraining && typeof lens.command.arguments?.[0] === 'string')
        lens.command.arguments = [vscode.Uri.parse(lens.command.arguments[0])];
    }
    return lenses;
  },
};

async function createClient(context: vscode.ExtensionContext, log: vscode.OutputChannel): Promise<LanguageClient> {
  // require, not import(): bundled, it evaluates the library here, on first use; tsc would resolve an
  // import() in this CommonJS module as an ES module, which the package's `node` subpath is not.
  const { LanguageClient, TransportKind } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('vscode-languageclient/node') as typeof import('vscode-languageclient/node');
  const module = context.asAbsolutePath('dist/server.js');
  const gpuMemoryGB = vscode.workspace.getConfiguration('taiaLab').get<number>('experiment.gpuMemoryGB');
  const clientOptions: LanguageClientOptions = {
    // Paths in experiment files are relative to the file's folder: only files on disk are checked.
    documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
    initializationOptions: { gpuMemoryGB },
    outputChannel: log,
    middleware,
  };
  const client = new LanguageClient(
    'taiaExperiment',
    'TAIA Experiment',
    {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
    },
    clientOptions,
  );
  await client.start();
  return client;
}

/** Starts the client once an experiment document is open (now or later); disposing stops the server. */
export function startLanguageClient(context: vscode.ExtensionContext): vscode.Disposable {
  let client: Promise<LanguageClient> | undefined;
  let log: vscode.OutputChannel | undefined;
  const startFor = (doc: vscode.TextDocument): void => {
    if (!LANGUAGES.includes(doc.languageId) || client) return;
    log = vscode.window.createOutputChannel('TAIA Experiment Language Server');
    client = createClient(context, log);
    client.catch((e: unknown) =>
      log?.appendLine(`the language server did not start: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  vscode.workspace.textDocuments.forEach(startFor);
  const opened = vscode.workspace.onDidOpenTextDocument(startFor);
  return {
    dispose: () => {
      opened.dispose();
      void client
        ?.then(
          (c) => c.stop(),
          () => undefined,
        )
        .finally(() => log?.dispose());
    },
  };
}
