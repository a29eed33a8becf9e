"""The training loop: data order, optimisation, GradCache, DDP, checkpoints, resume, logs."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsearch.training.config import RunConfig
from vsearch.training.data import DataReport, RowReader, TrainRow, mix, read_rows
from vsearch.training.distributed import gather_with_grad, init_world, leave_world, shard
from vsearch.training.grad_cache import GradCache, full_batch_step
from vsearch.training.loss import info_nce
from vsearch.training.model import TrainableModel, trainable_parameters

EvalHook = Callable[[TrainableModel, int], dict[str, float]]
STATE_NAME = "trainer_state.pt"
WEIGHTS_NAME = "trainable.pt"


@dataclass
class TrainResult:
    steps: int
    losses: list[float]
    output: Path
    data: DataReport


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_lambda(config: RunConfig) -> Callable[[int], float]:
    train = config.train

    def factor(step: int) -> float:
        if step < train.warmup_steps:
            return (step + 1) / (train.warmup_steps + 1)
        if train.scheduler == "constant":
            return 1.0
        progress = (step - train.warmup_steps) / max(1, train.max_steps - train.warmup_steps)
        if train.scheduler == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return max(0.0, 1 - progress)

    return factor


class Trainer:
    """Fine-tunes a TrainableModel contrastively on MMEB-train rows, as a config says.

    It does not evaluate by itself: pass ``eval_hook(model, step) -> metrics``.
    """

    def __init__(
        self,
        config: RunConfig,
        model: TrainableModel,
        *,
        eval_hook: EvalHook | None = None,
        progress: bool = True,
    ) -> None:
        self.config, self.model, self.eval_hook = config, model, eval_hook
        self.train_cfg = config.train
        self.output = Path(self.train_cfg.output_dir)
        self.device = resolve_device(self.train_cfg.device)
        self.world = init_world(self.device)
        self.reader = RowReader(
            model.max_image_side, verbatim=getattr(model, "reads_verbatim", False)
        )
        self.datasets = [read_rows(d) for d in config.datasets]
        self.weights = [d.weight for d in config.datasets]
        if self.train_cfg.batch_size % self.world.size:
            raise ValueError(
                f"batch_size {self.train_cfg.batch_size} must divide by the {self.world.size} ranks"
            )
        if self.train_cfg.gc_chunk_size and getattr(model, "uses_auxiliary_loss", False):
            raise ValueError("this model's auxiliary loss needs gc_chunk_size = 0 (no GradCache)")
        self.params = trainable_parameters(model.module)
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(
            self.params, lr=self.train_cfg.learning_rate, weight_decay=self.train_cfg.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(config))
        self.step, self.epoch, self.position = 0, 0, 0
        self.progress = progress and self.world.is_main

    # ---- data ------------------------------------------------------------------------------

    def _epoch_rows(self) -> list[TrainRow]:
        return mix(self.datasets, self.weights, seed=self.train_cfg.seed + self.epoch)

    def next_batch(self) -> list[tuple[Any, Any, Any]]:
        """The next global batch of (query, target, negative or None); bad rows are skipped."""
        batch = []
        rows = self._epoch_rows()
        if not rows:
            raise ValueError("the datasets hold no rows")
        while len(batch) < self.train_cfg.batch_size:
            if self.position >= len(rows):
                self.epoch, self.position = self.epoch + 1, 0
                rows = self._epoch_rows()
            read = self.reader.read(rows[self.position])
            self.position += 1
            if read is None:
                continue
            query, target, negative = read
            batch.append((query, target, negative if self.train_cfg.use_hard_negatives else None))
        return batch

    # ---- one step --------------------------------------------------------------------------

    def _encode(self, items: Any) -> torch.Tensor:
        autocast = self.device.type == "cuda" and self.train_cfg.bf16
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            return self.model.embed(items).float()

    def _loss(self, reps: list[torch.Tensor]) -> torch.Tensor:
        query, target, negative = (gather_with_grad(r, self.world) for r in reps)
        loss = info_nce(
            query,
            target,
            negative if len(negative) else None,
            temperature=self.train_cfg.temperature,
            symmetric=self.train_cfg.symmetric,
        )
        auxiliary = getattr(self.model, "auxiliary_loss", None)
        extra = auxiliary() if auxiliary is not None else None
        return loss if extra is None else loss + extra

    def train_step(self, batch: list[tuple[Any, Any, Any]]) -> float:
        """One optimisation step on a global batch; this rank embeds its shard of the rows."""
        loss = self.accumulate_gradients(batch)
        if self.train_cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.train_cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    def accumulate_gradients(self, batch: list[tuple[Any, Any, Any]]) -> float:
        """The global batch's loss, with its full gradient summed into every rank's parameters
        (no optimiser step). A rank's shard may hold no hard negatives while another's does."""
        rows = shard(batch, self.world)
        groups = [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows if r[2]]]
        if self.train_cfg.gc_chunk_size:
            loss = GradCache(self._encode, self._loss, self.train_cfg.gc_chunk_size)(groups)
        else:
            loss = full_batch_step(self._encode, self._loss, groups)
        self._sum_gradients_across_ranks()
        return float(loss)

    def _sum_gradients_across_ranks(self) -> None:
        """Every rank computed the same global loss through its own embeddings, so the full
        gradient is the sum of the ranks' gradients. (DDP's reducer assumes one forward per
        backward, which GradCache's chunked re-forwards break; one all-reduce is exact.)"""
        if self.world.size == 1:
            return
        import torch.distributed as dist

        for param in self.params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            dist.all_reduce(param.grad)

    # ---- the loop --------------------------------------------------------------------------

    def train(self, *, resume: bool = False, stop_at: int | None = None) -> TrainResult:
        """Run to ``max_steps``; with ``resume``, continue from the latest checkpoint.

        ``stop_at`` ends the run early at that step with a checkpoint, as an interruption would.
        """
        self._seed()
        if resume:
            self._load_latest_checkpoint()
        self.model.module.train()
        losses: list[float] = []
        bar = self._progress_bar()
        started, samples = time.perf_counter(), 0
        while self.step < self.train_cfg.max_steps:
            loss = self.train_step(self.next_batch())
            self.step += 1
            samples += self.train_cfg.batch_size
            losses.append(loss)
            rate = samples / (time.perf_counter() - started)
            lr = self.scheduler.get_last_lr()[0]
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", samples_s=f"{rate:.1f}")
                bar.update(1)
            metrics: dict[str, Any] = {
                "step": self.step,
                "loss": loss,
                "lr": lr,
                "samples_per_s": rate,
            }
            if (
                self.eval_hook
                and self.train_cfg.eval_every
                and self.step % self.train_cfg.eval_every == 0
            ):
                metrics.update(self.eval_hook(self.model, self.step))
                self.model.module.train()
            if self.step % max(1, self.train_cfg.log_every) == 0:
                self._log(metrics)
            if self.train_cfg.save_every and self.step % self.train_cfg.save_every == 0:
                self.save_checkpoint()
            if stop_at is not None and self.step >= stop_at:
                self.save_checkpoint()
                break
        if bar is not None:
            bar.close()
        if stop_at is not None and self.step < self.train_cfg.max_steps:
            leave_world(self.world)
            return TrainResult(self.step, losses, self.output, self.reader.report)
        final = self.output / "final"
        if self.world.is_main:
            self.model.save(final)
        leave_world(self.world)
        return TrainResult(self.step, losses, final, self.reader.report)

    def _progress_bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.train_cfg.max_steps, initial=self.step, desc="training", unit="step")

    def _seed(self) -> None:
        seed = self.train_cfg.seed + self.world.rank
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _log(self, metrics: dict[str, Any]) -> None:
        if not self.world.is_main:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        with (self.output / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(metrics) + "\n")

    # ---- checkpoints -----------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Trainable weights, optimiser, scheduler, RNG and data position at this step."""
        folder = self.output / f"checkpoint-{self.step:07d}"
        if not self.world.is_main:
            return folder
        tmp = folder.with_name(folder.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        trainable = {
            n: p.detach().cpu() for n, p in self.model.module.named_parameters() if p.requires_grad
        }
        torch.save(trainable, tmp / WEIGHTS_NAME)
        torch.save(
            {
                "step": self.step,
                "epoch": self.epoch,
                "position": self.position,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": {
                    "python": random.getstate(),
                    "numpy": np.random.get_state(),
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                },
                "config": self.config.to_dict(),
            },
            tmp / STATE_NAME,
        )
        tmp.replace(folder)  # a checkpoint folder exists whole or not at all
        return folder

    def _load_latest_checkpoint(self) -> None:
        checkpoints = sorted(
            p for p in self.output.glob("checkpoint-*") if not p.name.endswith(".tmp")
        )
        if not checkpoints:
            raise ValueError(f"nothing to resume: no checkpoint in {self.output}")
        folder = checkpoints[-1]
        trainable = torch.load(folder / WEIGHTS_NAME, map_location=self.device)
        missing = self.model.module.load_state_dict(trainable, strict=False)
        if missing.unexpected_keys:
            raise ValueError(f"{folder} does not match this model: {missing.unexpected_keys[:3]}")
        state = torch.load(folder / STATE_NAME, map_location="cpu", weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
