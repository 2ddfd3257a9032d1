// The external evaluation command (taiaLab.evaluation.command, a study's eval.command) as the shell runs it.

/** `${checkpoint}`, `${output}` and `${tasks}` (comma-separated) substituted, each shell-quoted. */
export function evaluationCommandLine(
  template: string,
  values: { checkpoint: string; output: string; tasks: string[] },
): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return template
    .replace(/\$\{checkpoint\}/g, quote(values.checkpoint))
    .replace(/\$\{output\}/g, quote(values.output))
    .replace(/\$\{tasks\}/g, quote(values.tasks.join(',')));
}
