// The language server of experiment files (`*.taia.yaml`, language id taia-experiment) and study files
// (`*.taia-study.yaml`, taia-study; see kinds.ts). VS Code starts it
// over IPC (src/extension/languageClient.ts); other editors run `node dist/server.js --stdio`.
import { totalmem } from 'node:os';
import {
  CodeActionKind,
  createConnection,
  Diagnostic,
  DiagnosticSeverity,
  DidChangeWatchedFilesNotification,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { TOOL_VERSION } from '../core/version';
import { diagnose } from './analysis';
import type { CheckOptions } from './checks';
import { complete } from './completion';
import { hover } from './hover';
import { ModelCache } from './model';
import { quickFixes } from './quickFixes';
import { documentSymbols } from './symbols';
import { fsPathOf } from './uri';
import { DebouncedValidator } from './validation';
import { WorkspaceFiles } from './workspaceFiles';

const TRANSPORTS = ['--stdio', '--node-ipc', '--socket=', '--pipe=', '--clientProcessId'];
if (!process.argv.some((a) => TRANSPORTS.some((t) => a.startsWith(t)))) {
  process.stderr.write(
    'taia experiment language server: start it with --stdio (or --node-ipc, --socket=PORT, --pipe=NAME)\n',
  );
  process.exit(2);
}

/** Settings the client may pass as initializationOptions. */
interface InitOptions {
  /** Memory of the training GPU in GB; without it runs on `device: gpu` get no memory warning. */
  gpuMemoryGB?: number;
}

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const models = new ModelCache();
const workspace = new WorkspaceFiles([]);
const checkOptions: CheckOptions = { totalMem: totalmem() };

const modelOf = (doc: TextDocument) => models.get(doc.uri, doc.version, () => doc.getText(), fsPathOf(doc.uri));

const validator = new DebouncedValidator<Diagnostic[]>(
  async (uri) => {
    const doc = documents.get(uri);
    return doc && diagnose(doc, modelOf(doc), checkOptions);
  },
  (uri, diagnostics) => void connection.sendDiagnostics({ uri, diagnostics }),
  (uri, e) => {
    connection.console.error(`checking ${uri} failed: ${(e as Error).stack ?? String(e)}`);
    return [
      Diagnostic.create(
        { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        `internal error while checking: ${(e as Error).message}`,
        DiagnosticSeverity.Warning,
        undefined,
        'taia',
      ),
    ];
  },
);

let watchFiles = false;
let followFolders = false;
let roots: string[] = [];

connection.onInitialize((params) => {
  roots = params.workspaceFolders?.map((f) => fsPathOf(f.uri)) ?? (params.rootUri ? [fsPathOf(params.rootUri)] : []);
  workspace.setRoots(roots);
  followFolders = params.capabilities.workspace?.workspaceFolders === true;
  const gb = (params.initializationOptions as InitOptions | undefined)?.gpuMemoryGB;
  if (typeof gb === 'number' && gb > 0) checkOptions.gpuBytes = gb * 2 ** 30;
  watchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: [' ', '-', '[', ',', '/'] },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      documentSymbolProvider: true,
      codeLensProvider: { resolveProvider: false },
      ...(followFolders ? { workspace: { workspaceFolders: { supported: true, changeNotifications: true } } } : {}),
    },
    serverInfo: { name: 'taia-experiment', version: TOOL_VERSION },
  };
});

connection.onInitialized(() => {
  // Checkpoints and datasets appear, change and vanish: path checks and completion must follow.
  if (watchFiles)
    void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*' }] });
  // A folder added to the workspace later brings its checkpoints and datasets to completion.
  if (followFolders) {
    connection.workspace.onDidChangeWorkspaceFolders(({ added, removed }) => {
      const gone = new Set(removed.map((f) => fsPathOf(f.uri)));
      roots = [...roots.filter((r) => !gone.has(r)), ...added.map((f) => fsPathOf(f.uri))];
      workspace.setRoots(roots);
      revalidateAll();
    });
  }
});

function revalidateAll(): void {
  for (const doc of documents.all()) validator.schedule(doc.uri);
}

connection.onDidChangeWatchedFiles(() => {
  workspace.invalidate();
  revalidateAll();
});

documents.onDidChangeContent((e) => validator.schedule(e.document.uri));
documents.onDidClose((e) => {
  models.delete(e.document.uri);
  validator.forget(e.document.uri);
  void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
});

/** A handler for a request on an open document; requests on unknown documents get `empty`. */
function onDocument<P extends { textDocument: { uri: string } }, R>(
  empty: R,
  handle: (doc: TextDocument, params: P) => R | Promise<R>,
) {
  return (params: P): R | Promise<R> => {
    const doc = documents.get(params.textDocument.uri);
    return doc ? handle(doc, params) : empty;
  };
}

connection.onCompletion(
  onDocument([], (doc, params) => {
    // A space opens suggestions for values only: typing indentation should not pop up the key list.
    const offset = doc.offsetAt(params.position);
    return complete(doc, modelOf(doc), offset, workspace, params.context?.triggerCharacter === ' ');
  }),
);
connection.onHover(onDocument(null, (doc, params) => hover(doc, modelOf(doc), doc.offsetAt(params.position))));
connection.onCodeAction(onDocument([], (_doc, params) => quickFixes(params)));
connection.onDocumentSymbol(onDocument([], (doc) => documentSymbols(doc, modelOf(doc))));
connection.onCodeLens(onDocument([], (doc) => modelOf(doc).kind.lenses(doc.uri)));

process.on('unhandledRejection', (e) => connection.console.error(`unhandled: ${(e as Error)?.stack ?? String(e)}`));

documents.listen(connection);
connection.listen();
