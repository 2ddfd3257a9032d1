// Dataset detection (content sniffing, a full line count) cached per (file, mtime, size).
import { detectDataset, DatasetSummary } from '../core/datasets/detect';
import { fileSignature, SignatureCache } from './cache';

const summaries = new SignatureCache<DatasetSummary>(512);

export async function datasetSummary(file: string): Promise<DatasetSummary> {
  return summaries.get(file, await fileSignature([file]), () => detectDataset(file));
}
