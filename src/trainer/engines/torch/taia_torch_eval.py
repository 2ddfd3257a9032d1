#!/usr/bin/env python3
"""TAIA Lab's PyTorch evaluator: scores token ids for the built-in evaluator with transformers.

Started by the TAIA Lab trainer process (src/trainer/engines/torch/evaluate.ts), which reads the task
files, renders and tokenizes the prompts and scores the answers. This script only loads the model and
answers the two questions lm-evaluation-harness asks of a model, so the PyTorch and built-in engines
are judged on the same token ids.

Messages (JSON lines on fd 3, see taia_engine.py):
  {"type": "env", ...}                                      always first
  {"type": "ready", "device": ..., "dtype": ..., "parameters": N}
  {"type": "result", "id": N, "values": [...]}              one per request, in order
  {"type": "error", "kind": "environment" | "oom" | "failure", "message": ...}
Requests (JSON lines on stdin; the end of input ends the script):
  {"type": "loglikelihood", "id": N, "requests": [{"context": [ids], "continuation": [ids]}, ...]}
      values: sum of log p(continuation token | everything before it), in float32, per request
  {"type": "generate", "id": N, "prompts": [[ids], ...], "maxNewTokens": K, "stop": ID}
      values: the greedy continuation of each prompt (token ids, without the stop token)

Batches are cut to --batch-tokens (padded tokens per forward pass) and halved on CUDA out-of-memory.
"""

import argparse
import json
import sys

from taia_engine import emit, load_causal_lm, run_reporting, start


def load_model(args):
    import torch

    cuda = torch.cuda.is_available() and args.device != "cpu"
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model = load_causal_lm(args.model, dtype)
    if args.adapter:
        from peft import PeftModel

        # Folded, as the built-in engine folds it: the adapter scores as its merged model.
        model = PeftModel.from_pretrained(model, args.adapter).merge_and_unload()
    model.to(device).eval()
    return model, device, dtype


def token_batches(order, lengths, budget):
    """Consecutive runs of `order` (longest first) whose padded size stays within `budget` tokens."""
    batch = []
    for i in order:
        if batch and (len(batch) + 1) * lengths[batch[0]] > budget:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def halving_on_oom(run, batch, lengths, what):
    """run(batch), or run on each half after a CUDA out-of-memory, down to a single sequence."""
    import torch

    try:
        run(batch)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        if len(batch) == 1:
            raise MemoryError(f"out of GPU memory {what} a single sequence of {lengths[batch[0]]} tokens")
        half = len(batch) // 2
        halving_on_oom(run, batch[:half], lengths, what)
        halving_on_oom(run, batch[half:], lengths, what)


def loglikelihood(model, device, requests, budget):
    import torch

    seqs = [(r["context"] + r["continuation"])[:-1] for r in requests]
    if any(not r["context"] for r in requests):
        raise ValueError("a loglikelihood request has an empty context")
    lengths = [len(s) for s in seqs]
    values = [0.0] * len(requests)

    def score(batch):
        T = max(lengths[i] for i in batch)
        ids = torch.zeros((len(batch), T), dtype=torch.long)  # padding: masked, and after each sequence
        mask = torch.zeros((len(batch), T), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = torch.tensor(seqs[i])
            mask[row, : lengths[i]] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for row, i in enumerate(batch):
                cont = requests[i]["continuation"]
                start = len(requests[i]["context"]) - 1
                logp = logits[row, start : start + len(cont)].float().log_softmax(-1)
                values[i] = logp.gather(1, torch.tensor(cont, device=device)[:, None]).sum().item() if cont else 0.0

    order = sorted(range(len(seqs)), key=lambda i: -lengths[i])
    for batch in token_batches(order, lengths, budget):
        halving_on_oom(score, batch, lengths, "scoring")
    return values


def generate(model, device, prompts, max_new, stop, budget):
    import torch
    from transformers import GenerationConfig

    # A config of its own: the checkpoint's generation_config.json (sampling, repetition penalty) must not apply.
    # Finished rows are padded with the stop token, which ends every answer anyway.
    config = GenerationConfig(max_new_tokens=max_new, do_sample=False, num_beams=1, eos_token_id=stop, pad_token_id=stop)
    lengths = [len(p) + max_new for p in prompts]
    values = [None] * len(prompts)

    def run(batch):
        T = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), T), stop, dtype=torch.long)
        mask = torch.zeros((len(batch), T), dtype=torch.long)
        for row, i in enumerate(batch):  # left padding: every prompt ends where generation starts
            ids[row, T - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, T - len(prompts[i]) :] = 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config)
        for row, i in enumerate(batch):
            tokens = out[row, T:].tolist()
            values[i] = tokens[: tokens.index(stop)] if stop in tokens else tokens

    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    for batch in token_batches(order, lengths, budget):
        halving_on_oom(run, batch, lengths, "generating from")
    return values


def serve(args, model, device, dtype):
    emit("ready", device=str(device), dtype=str(dtype).replace("torch.", ""), parameters=sum(p.numel() for p in model.parameters()))
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request["type"] == "loglikelihood":
            values = loglikelihood(model, device, request["requests"], args.batch_tokens)
        elif request["type"] == "generate":
            values = generate(model, device, request["prompts"], request["maxNewTokens"], request["stop"], args.batch_tokens)
        else:
            raise ValueError(f"unknown request type {request['type']!r}")
        emit("result", id=request["id"], values=values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model folder (the base, when --adapter is given)")
    parser.add_argument("--adapter", help="PEFT LoRA adapter folder, folded into the model")
    parser.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"])
    parser.add_argument("--batch-tokens", type=int, default=8192, help="padded tokens per forward pass")
    args = parser.parse_args()
    if not start(args.device, ("torch", "transformers", "safetensors") + (("peft",) if args.adapter else ())):
        return 3
    return run_reporting(lambda: serve(args, *load_model(args)))


if __name__ == "__main__":
    sys.exit(main())
