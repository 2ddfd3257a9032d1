// The one table of TAIA Lab's command IDs. No vscode import: the language server's code lenses use it
// too. A unit test keeps it equal to package.json's contributes.commands. IDs are public (keybindings,
// walkthrough links, other extensions), so an ID outlives a change of what its title says.
export const COMMANDS = {
  merge: 'taiaLab.mergeTaia',
  inspectDeltas: 'taiaLab.inspectDeltas',
  refresh: 'taiaLab.refresh',
  previewDataset: 'taiaLab.previewDataset',
  revealInExplorer: 'taiaLab.revealInExplorer',
  copyPath: 'taiaLab.copyPath',
  startTraining: 'taiaLab.startTraining',
  cancelRun: 'taiaLab.cancelRun',
  resumeRun: 'taiaLab.resumeRun',
  openRunDashboard: 'taiaLab.openRunDashboard',
  showRunLog: 'taiaLab.showRunLog',
  compareRuns: 'taiaLab.compareRuns',
  refreshRuns: 'taiaLab.refreshRuns',
  evaluate: 'taiaLab.evaluate',
  benchmarkDiff: 'taiaLab.benchmarkDiff',
  runStudy: 'taiaLab.runStudy',
  experiments: 'taiaLab.experiments',
  createDemoWorkspace: 'taiaLab.createDemoWorkspace',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];
