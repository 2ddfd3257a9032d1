// Browser code of the run dashboard: state, progress and ETA, live loss / learning-rate / throughput
// charts, the latest values, the failure and the config of one fine-tuning run. The host sends the
// whole run once per page load, then only what changed; all file content goes in as text.
import type { MetricRecord, RunConfig, RunState, RunStatus } from '../../core/runs/types';
import type { RunData } from '../../core/runs/view';
import { flatten } from '../../core/util/flatten';
import { LineChart } from '../shared/chart';
import { $, el, frameScheduler, showMessage, vscodeApi } from '../shared/dom';
import { duration, gib, int, num, peakGpuMemory } from '../shared/format';
import type { DashboardState, FromWebview, ToWebview } from './protocol';

const vscode = vscodeApi<FromWebview, DashboardState>();

/** Icons are decoration next to the state's word (aria-hidden), which carries the meaning. */
const STATE_ICONS: Record<RunState, string> = {
  queued: '◷',
  pending: '◷',
  running: '▶',
  done: '✓',
  failed: '✗',
  cancelled: '⊘',
  interrupted: '⏸',
  timeout: '⌛',
  preempted: '⏸',
  node_fail: '✗',
};
/** Seconds per step are averaged over this many recent records: recent speed predicts the rest best. */
const ETA_WINDOW = 20;

let status: RunStatus | undefined;
let config: RunConfig | undefined;
let metrics: MetricRecord[] = [];
/** Runs of other tools: their evaluations, settings and reading notes. */
let external: Pick<RunData, 'evals' | 'hyperparameters' | 'notes'> = {};
let message: string | undefined;
/** Set by an init: the render after it tells the host the page is showing the run. */
let announce = false;

const charts = {
  loss: new LineChart({ title: 'loss', xLabel: 'step' }),
  lr: new LineChart({ title: 'learning rate', xLabel: 'step', format: (y) => (y === 0 ? '0' : y.toExponential(1)) }),
  throughput: new LineChart({ title: 'tokens/s', xLabel: 'step', format: int }),
  // The PyTorch engine on CUDA reports it; the section stays hidden for runs without it.
  gpu: new LineChart({ title: 'peak GPU memory (GiB)', xLabel: 'step', format: (y) => y.toFixed(1) }),
};
for (const [id, chart] of Object.entries(charts)) $(`chart-${id}`).append(chart.element);

/** Appends in step order; a resumed run logs again from its checkpoint, and its new records replace the old ones from there on. */
function append(records: MetricRecord[]): void {
  for (const r of records) {
    while (metrics.length && metrics[metrics.length - 1].step >= r.step) metrics.pop();
    metrics.push(r);
  }
}

/** The records since the latest resume: `elapsed` restarts there. */
function currentSegment(): MetricRecord[] {
  let start = metrics.length - 1;
  while (start > 0 && (metrics[start - 1].elapsed ?? 0) <= (metrics[start].elapsed ?? 0)) start--;
  return metrics.slice(Math.max(0, start));
}

function eta(step: number, total: number): number | undefined {
  // Only the records since the latest resume: a window across one would mix two clocks.
  const recent = currentSegment().slice(-ETA_WINDOW);
  if (recent.length < 2) return undefined;
  const a = recent[0];
  const b = recent[recent.length - 1];
  // Tools that record no times (trainer_state.json) give no estimate.
  const perStep = ((b.elapsed ?? NaN) - (a.elapsed ?? NaN)) / (b.step - a.step);
  return perStep > 0 ? perStep * (total - step) : undefined;
}

/** Training time over every segment of the run: each resume's clock starts at 0 again. */
function totalElapsed(): number | undefined {
  let sum = 0;
  // Tools that record no times (trainer_state.json) have none.
  if (!metrics.length || metrics.some((m) => m.elapsed === undefined)) return undefined;
  const at = (i: number) => metrics[i].elapsed ?? 0;
  for (let i = 1; i < metrics.length; i++) if (at(i) < at(i - 1)) sum += at(i - 1);
  return sum + at(metrics.length - 1);
}

function definitionList(rows: [string, string][]): HTMLDListElement {
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}

function render(): void {
  showMessage(message);
  if (!status) return;
  const last = metrics[metrics.length - 1];
  const step = Math.max(status.step, last?.step ?? 0);
  const total = status.totalSteps;
  document.title = status.name;
  $('title').textContent = status.name;
  const job = status.slurm?.jobId
    ? `Slurm job ${status.slurm.jobId}${status.slurm.partition ? ` on ${status.slurm.partition}` : ''}${status.slurm.nodeList ? ` (${status.slurm.nodeList})` : ''}${status.state === 'pending' && status.slurm.reason ? `, waiting: ${status.slurm.reason}` : ''}`
    : undefined;
  $('subtitle').textContent = [status.id, status.engine, status.source, status.backend, job]
    .filter(Boolean)
    .join(' · ');
  // A run of another tool has no train.log or config.json: its Trainer state (or folder) is what opens.
  $('open-log').hidden = status.source !== undefined;
  $('open-config').textContent =
    status.source === undefined
      ? 'Open config.json'
      : status.source === 'TensorBoard'
        ? 'Reveal folder'
        : 'Open trainer_state.json';
  $('state').className = `state state-${status.state}`;
  $('state-icon').textContent = STATE_ICONS[status.state] ?? '?';
  $('state-label').textContent = status.state;
  const progress = $('progress') as HTMLProgressElement;
  progress.max = total || 1;
  progress.value = total ? Math.min(step, total) : 0;
  $('progress-text').textContent = total
    ? `step ${step} / ${total} (${Math.floor((100 * step) / total)}%)`
    : `step ${step}`;
  const running = status.state === 'running';
  $('cancel').hidden = !(running || status.state === 'queued');
  const took =
    status.startedAt && status.endedAt ? (Date.parse(status.endedAt) - Date.parse(status.startedAt)) / 1000 : undefined;
  $('eta').textContent =
    running && total ? `ETA ${duration(eta(step, total))}` : took !== undefined ? `took ${duration(took)}` : '';
  if (status.resumes) $('eta').textContent += ` · resumed ${status.resumes}×`;

  const failure = $('failure');
  failure.hidden = !status.error && !status.stderrTail;
  $('error').textContent = status.error ?? '';
  $('stderr').textContent = status.stderrTail ?? '';
  $('stderr').hidden = !status.stderrTail;

  const minLoss = metrics.reduce((m, r) => (r.loss < m ? r.loss : m), Infinity);
  const gpuPeak = peakGpuMemory(metrics);
  $('latest').replaceChildren(
    definitionList([
      ['loss', num(last?.loss ?? status.finalLoss)],
      ['min loss', Number.isFinite(minLoss) ? num(minLoss) : '—'],
      ['learning rate', last?.lr !== undefined ? last.lr.toExponential(2) : '—'],
      ['grad norm', num(last?.gradNorm)],
      ['tokens/s', int(last?.tokensPerSecond)],
      ['epoch', num(last?.epoch)],
      ['elapsed', duration(totalElapsed())],
      ...(gpuPeak > 0 ? [['peak GPU memory', gib(gpuPeak)] as [string, string]] : []),
    ]),
  );

  const xs = metrics.map((r) => r.step);
  const evalLoss = (external.evals ?? []).filter((e) => e.values.loss !== undefined);
  charts.loss.update(
    [
      { label: 'loss', xs, ys: metrics.map((r) => r.loss) },
      ...(evalLoss.length
        ? [{ label: 'eval loss', xs: evalLoss.map((e) => e.step), ys: evalLoss.map((e) => e.values.loss) }]
        : []),
    ],
    total,
  );
  charts.lr.update([{ label: 'learning rate', xs, ys: metrics.map((r) => r.lr ?? NaN) }], total);
  charts.throughput.update([{ label: 'tokens/s', xs, ys: metrics.map((r) => r.tokensPerSecond ?? NaN) }], total);
  $('gpu').hidden = gpuPeak === 0;
  if (gpuPeak > 0)
    charts.gpu.update(
      [
        {
          label: 'peak GPU memory (GiB)',
          xs,
          ys: metrics.map((r) => (r.gpuMemory === undefined ? NaN : r.gpuMemory / 2 ** 30)),
        },
      ],
      total,
    );

  if (config && config.engine !== 'command') {
    const t = config.train;
    const rows: [string, string][] = [
      ['method', t.method],
      ['learning rate', `${t.learning_rate} (${t.lr_scheduler_type})`],
      [
        'batch size',
        t.gradient_accumulation_steps > 1
          ? `${t.batch_size} × ${t.gradient_accumulation_steps} accumulation`
          : String(t.batch_size),
      ],
      ['sequence length', String(t.max_seq_length)],
    ];
    if (t.method === 'lora') rows.push(['LoRA r / alpha', `${config.lora.r} / ${config.lora.lora_alpha}`]);
    rows.push(['base', config.base], ['dataset', config.dataset]);
    $('config').replaceChildren(definitionList(rows));
  } else if (config || external.hyperparameters) {
    // A command's run (its settings are the tool's, not the experiment's train section) or another tool's run.
    const lastEval = external.evals?.at(-1);
    const rows: [string, string][] = config
      ? [
          ['command', Array.isArray(config.command) ? config.command.join(' ') : config.command],
          ['cwd', config.cwd],
          ['output_dir', config.output_dir || '—'],
        ]
      : [];
    rows.push(...Object.entries(flatten(external.hyperparameters ?? {})));
    if (lastEval)
      rows.push(
        ...Object.entries(lastEval.values).map(
          ([k, v]) => [`eval ${k} (step ${lastEval.step})`, num(v)] as [string, string],
        ),
      );
    for (const note of external.notes ?? []) rows.push(['not read', note]);
    $('config').replaceChildren(definitionList(rows));
  }
  if (announce) {
    announce = false;
    vscode.postMessage({ type: 'rendered', records: metrics.length });
  }
}

const scheduleRender = frameScheduler(render);

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'init':
      vscode.setState({ runDir: m.runDir });
      ({ status, config } = m);
      external = { evals: m.evals, hyperparameters: m.hyperparameters, notes: m.notes };
      metrics = [];
      append(m.metrics);
      for (const chart of Object.values(charts)) chart.reset();
      message = undefined;
      announce = true;
      break;
    case 'status':
      status = m.status;
      // A new state (a resume) may be cancelled again.
      ($('cancel') as HTMLButtonElement).disabled = false;
      break;
    case 'metrics':
      append(m.records);
      if (m.evals) external.evals = m.evals;
      break;
    case 'jobLog': {
      // Text only (textContent): the job's output is workspace data. The last 64 KiB are kept.
      const pre = $('job-log');
      pre.textContent = ((m.reset ? '' : (pre.textContent ?? '')) + m.text).slice(-65536);
      $('job-log-section').hidden = false;
      pre.scrollTop = pre.scrollHeight;
      break;
    }
    case 'error':
      message = m.message;
      break;
  }
  scheduleRender();
});

$('cancel').addEventListener('click', () => {
  ($('cancel') as HTMLButtonElement).disabled = true;
  vscode.postMessage({ type: 'cancel' });
});
$('open-log').addEventListener('click', () => vscode.postMessage({ type: 'open', file: 'log' }));
$('open-config').addEventListener('click', () => vscode.postMessage({ type: 'open', file: 'config' }));
vscode.postMessage({ type: 'ready' });
