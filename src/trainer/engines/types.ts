// What a training engine and the trainer process around it say to each other (tfjs in-process, torch via Python).
import type { MetricRecord } from '../../core/runs/types';

/** What the engine tells the process around it; the process turns these into protocol messages and files. */
export interface EngineHooks {
  /** `command`: what engine command runs (it reports no parameter or example counts). */
  started(info: {
    backend: string;
    totalSteps: number;
    startStep: number;
    parameters: number;
    trainableParameters: number;
    examples: number;
    command?: string;
  }): Promise<void>;
  /**
   * One step's line of metrics.jsonl, less what the process adds (elapsed, time); a command's tool may
   * not log the epoch, learning rate, gradient norm or throughput.
   */
  step(info: Omit<MetricRecord, 'elapsed' | 'time'> & { totalSteps: number }): Promise<void>;
  checkpoint(step: number, dir: string): Promise<void>;
  log(message: string): void;
  /** Polled between steps. */
  cancelled(): boolean;
}

export interface EngineResult {
  state: 'done' | 'cancelled';
  step: number;
  finalLoss?: number;
  checkpoint?: string;
  /** `engine: command`, cancelled: the signal that stopped the command (SIGINT, then SIGTERM, then SIGKILL). */
  stopSignal?: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
}
