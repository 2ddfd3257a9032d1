#!/usr/bin/env python3
"""TAIA Lab's PyTorch engine: fine-tunes a Hugging Face causal LM with transformers and PEFT.

Started by the TAIA Lab trainer process (src/trainer/engines/torch/engine.ts), which owns the run
folder, tokenizes the dataset with the same pipeline and chat template as the built-in engine, and
writes it as `data.tokens.jsonl` ({"ids": [...], "train": "0011…"} per example). This script trains and
reports; it never touches status.json or metrics.jsonl.

Messages to the parent (JSON lines on fd 3, see taia_engine.py):
  {"type": "env", ...}            what the environment has (always first)
  {"type": "started", ...}        total steps, parameters
  {"type": "step", ...}           loss, lr, grad norm, tokens/s, GPU memory
  {"type": "checkpoint", "step": N, "path": DIR}
  {"type": "error", "message": ..., "kind": "environment" | "oom" | "failure"}
  {"type": "done", "state": "done" | "cancelled", "step": N, "checkpoint": DIR}
The parent writes {"type": "cancel"} on stdin to stop after the current step (a checkpoint is saved).

`--check` prints the environment report as JSON on stdout and exits (0 when training can start).
Multi-GPU: the parent runs this under `python -m torch.distributed.run --nproc_per_node N`; rank 0
alone reports and saves.
"""

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time

from taia_engine import RANK, WORLD, check_environment, emit, load_causal_lm, run_reporting, start


def load_examples(path):
    examples = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                examples.append((row["ids"], [c == "1" for c in row["train"]]))
    return examples


def mulberry32(seed):
    """The project's seeded generator (src/core/util/random.ts), bit for bit: both engines shuffle alike."""
    mask = 0xFFFFFFFF
    state = seed & mask

    def imul(x, y):
        return (x * y) & mask

    def next_value():
        nonlocal state
        state = (state + 0x6D2B79F5) & mask
        t = imul(state ^ (state >> 15), state | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & mask)) & mask
        return (t ^ (t >> 14)) / 4294967296

    return next_value


class DataOrder:
    """Epoch e visits examples in a permutation seeded by (seed, e): resumable without replay, and the
    same permutation as the built-in engine's DataOrder (src/trainer/data/examples.ts)."""

    def __init__(self, examples, batch_size, seq_len, seed, pad_id):
        self.examples, self.seq_len, self.seed, self.pad_id = examples, seq_len, seed, pad_id
        self.batch_size = min(batch_size, len(examples))
        self.per_epoch = max(1, len(examples) // self.batch_size)
        self._cache = (None, None)

    def order(self, epoch):  # DataOrder.permutation in examples.ts
        if self._cache[0] != epoch:
            idx = list(range(len(self.examples)))
            random = mulberry32(self.seed * 1_000_003 + epoch)
            for i in range(len(idx) - 1, 0, -1):  # Fisher-Yates, as examples.ts
                j = int(random() * (i + 1))
                idx[i], idx[j] = idx[j], idx[i]
            self._cache = (epoch, idx)
        return self._cache[1]

    def batch(self, index):
        import torch

        epoch, pos = divmod(index, self.per_epoch)
        rows = self.order(epoch)[pos * self.batch_size:(pos + 1) * self.batch_size]
        T = self.seq_len
        inputs = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), T), -100, dtype=torch.long)
        for r, i in enumerate(rows):
            ids, train = self.examples[i]
            n = min(len(ids) - 1, T)
            inputs[r, :n] = torch.tensor(ids[:n])
            for t in range(n):
                if train[t + 1]:
                    labels[r, t] = ids[t + 1]
        return inputs, labels


def watch_cancel(flag):
    """A cancel request, or the end of stdin (the trainer process is gone), stops after the current step."""
    for line in sys.stdin:
        try:
            if json.loads(line).get("type") == "cancel":
                break
        except ValueError:
            pass
    flag.set()


def train(args, config):
    import torch
    from transformers import get_scheduler

    t = config["train"]
    cuda = torch.cuda.is_available() and config.get("device") != "cpu"
    if WORLD > 1:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(t["seed"])
    compute = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    resume = args.resume
    lora = t["method"] == "lora"
    # Mixed precision, as TrainingArguments(bf16=True) on a float32 model: the forward pass runs in bf16,
    # but full fine-tuning keeps float32 weights, since bf16 weights would round away every update smaller
    # than 1/256 of a weight. LoRA trains float32 adapters (PEFT's default) on a frozen bf16 base.
    dtype = compute if lora else torch.float32
    precision = "float32" if compute == torch.float32 else f"bf16 autocast, {'bf16 base' if lora else 'float32 weights'}"
    autocast = contextlib.nullcontext if compute == torch.float32 else (lambda: torch.autocast("cuda", dtype=compute))
    source = resume if (resume and not lora) else config["base"]
    model = load_causal_lm(source, dtype)
    if cuda:
        model.gradient_checkpointing_enable()
    if lora:
        from peft import LoraConfig, PeftModel, get_peft_model

        if cuda:
            model.enable_input_require_grads()
        l = config["lora"]
        if resume:
            model = PeftModel.from_pretrained(model, resume, is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(r=l["r"], lora_alpha=l["lora_alpha"], lora_dropout=l["lora_dropout"], use_rslora=l["use_rslora"], target_modules=l["target_modules"], task_type="CAUSAL_LM"))
    model.to(device)
    core = model
    if WORLD > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    params = [(n, p) for n, p in core.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.ndim >= 2]
    no_decay = [p for n, p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}], lr=t["learning_rate"], betas=(t["adam_beta1"], t["adam_beta2"]), eps=t["adam_epsilon"])

    examples = load_examples(args.data)
    seq_len = min(t["max_seq_length"], max(len(ids) for ids, _ in examples) - 1)
    order = DataOrder(examples, t["batch_size"], seq_len, t["seed"], args.pad_id)
    if order.batch_size < WORLD:
        raise ValueError(f"batch_size {order.batch_size} is smaller than the {WORLD} GPU processes (workers): each process needs at least one row of every batch")
    accum = t["gradient_accumulation_steps"]
    total = t["max_steps"] or max(1, t["num_train_epochs"] * (order.per_epoch // accum))
    warmup = t["warmup_steps"] or math.ceil(t["warmup_ratio"] * total)
    scheduler = get_scheduler(t["lr_scheduler_type"], optimizer, num_warmup_steps=warmup, num_training_steps=total)
    step = 0
    if resume:
        state = torch.load(os.path.join(resume, "optimizer.pt"), map_location=device, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = json.load(open(os.path.join(resume, "trainer_state.json")))["global_step"]
    trainable = sum(p.numel() for _, p in params)
    emit("started", totalSteps=total, startStep=step, parameters=sum(p.numel() for p in core.parameters()), trainableParameters=trainable, examples=len(examples), device=str(device), dtype=precision, world=WORLD)

    cancel = threading.Event()
    # Only rank 0 reads stdin (under torchrun every rank inherits the same pipe); its decision is shared.
    if RANK == 0:
        threading.Thread(target=watch_cancel, args=(cancel,), daemon=True).start()
    # In a Slurm job scancel, a preemption or the time limit reach every rank as SIGTERM (through srun and
    # torch.distributed.run): stop after the step and save, like a cancel request.
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())

    def stop_requested():
        if WORLD == 1:
            return cancel.is_set()
        flag = torch.tensor([1 if cancel.is_set() else 0], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    saved = None
    model.train()
    while step < total and not stop_requested():
        t0 = time.perf_counter()
        loss_sum = 0.0
        for k in range(accum):
            inputs, labels = order.batch(step * accum + k)
            # Rows are split across ranks; each rank computes the mean over its own tokens.
            inputs, labels = inputs[RANK::WORLD].to(device), labels[RANK::WORLD].to(device)
            try:
                # labels[t] is already the token after position t (-100: not trained), as in the built-in
                # engine; transformers' own loss would shift them once more, so the loss is computed here.
                with autocast():
                    logits = model(input_ids=inputs).logits
                loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
                (loss / accum).backward()
            except torch.cuda.OutOfMemoryError:
                raise MemoryError(f"out of GPU memory at step {step + 1} with batch_size {t['batch_size']} × max_seq_length {seq_len} (gradient_accumulation_steps {accum}, {'LoRA' if lora else 'full'} fine-tuning, {precision}): lower batch_size or max_seq_length and raise gradient_accumulation_steps{'' if lora else '; full fine-tuning keeps float32 weights, gradients and AdamW state (16 bytes per parameter), so LoRA fits models that this does not'}")
            loss_sum += loss.item()
        if WORLD > 1:  # the loss reported is the mean over the ranks, as each computed its own rows'
            mean = torch.tensor([loss_sum], device=device)
            torch.distributed.all_reduce(mean)
            loss_sum = mean.item() / WORLD
        grad_norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], t["max_grad_norm"]) if t["max_grad_norm"] > 0 else torch.tensor(0.0)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seconds = time.perf_counter() - t0
        memory = torch.cuda.max_memory_allocated(device) if cuda else 0
        emit("step", step=step, totalSteps=total, epoch=step * accum / order.per_epoch, loss=loss_sum / accum, lr=lr, gradNorm=float(grad_norm), tokensPerSecond=order.batch_size * seq_len * accum / seconds, gpuMemory=memory)
        if t["save_steps"] and step % t["save_steps"] == 0 and step < total:
            saved = save(core, optimizer, scheduler, step, args, config)
    if saved is None or not saved.endswith(f"-{step}"):
        saved = save(core, optimizer, scheduler, step, args, config) if step > 0 else None
    emit("done", state="done" if step >= total else "cancelled", step=step, checkpoint=saved)


def remove_dead_temporaries(parent):
    """Temporaries of saves whose process is gone (killed mid-save), by the pid in their name."""
    for name in os.listdir(parent) if os.path.isdir(parent) else []:
        m = re.fullmatch(r"checkpoint-\d+\.tmp-(\d+)", name)
        if m and int(m.group(1)) != os.getpid() and not process_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def save(model, optimizer, scheduler, step, args, config):
    """checkpoint-N in Hugging Face Trainer's layout, written under a temporary name and renamed."""
    if RANK != 0:
        return None
    import torch

    dest = os.path.join(args.run_dir, "checkpoints", f"checkpoint-{step}")
    remove_dead_temporaries(os.path.dirname(dest))
    tmp = dest + f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    # safetensors: the default of every supported version (transformers 5 removed the argument)
    model.save_pretrained(tmp)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "generation_config.json", "chat_template.jinja"):
        src = os.path.join(config["base"], name)
        if os.path.exists(src) and not os.path.exists(os.path.join(tmp, name)):
            shutil.copyfile(src, os.path.join(tmp, name))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, os.path.join(tmp, "optimizer.pt"))
    with open(os.path.join(tmp, "trainer_state.json"), "w") as f:
        json.dump({"global_step": step, "engine": "torch", "seed": config["train"]["seed"]}, f, indent=2)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    emit("checkpoint", step=step, path=dest)
    return dest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="print the environment report and exit")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--run-dir")
    parser.add_argument("--data")
    parser.add_argument("--resume")
    parser.add_argument("--pad-id", type=int, default=0)
    args = parser.parse_args()
    if args.check:
        report = check_environment(args.device)
        print(json.dumps(report))
        return 0 if not report["problems"] else 3
    config = json.load(open(os.path.join(args.run_dir, "config.json")))
    if not start(config.get("device", "auto")):
        return 3
    return run_reporting(lambda: train(args, config))


if __name__ == "__main__":
    sys.exit(main())
