"""The local training engine: SageMaker's Image Classification algorithm, in plain torch.

One :class:`Engine` runs one job folder (:mod:`sagewiz.core.local.job`): it reads the spec,
checks the hyperparameters exactly as SageMaker would, trains the ResNet, writes the algorithm's
log lines and SageMaker-named statuses as it goes, and leaves ``output/model.tar.gz``. A stop
request ends the current batch, keeps the best model so far and ends Stopped; any error ends
Failed with a one-line reason ("ClientError: …" for what the user can fix, "AlgorithmError: …"
otherwise) while the traceback goes to ``engine.err``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sagewiz.core.errors import WizardError
from sagewiz.core.local import job as jobs

SPEEDOMETER_BATCHES = 20  # MXNet's Speedometer default: a speed line every 20 batches
# Small datasets are decoded once and kept in memory; bigger ones are decoded by worker processes.
CACHE_LIMIT_BYTES = 1 << 30


class ClientError(WizardError):
    """Something in the job's input or settings that the user must change (SageMaker's ClientError)."""


class Engine:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.spec = jobs.read_spec(self.folder)
        self.status: dict[str, Any] = jobs.read_status(self.folder) or {"history": [], "metrics": []}
        self.status.update(pid=os.getpid(), started_at=self.status.get("started_at") or time.time())
        self.log = open(jobs.log_path(self.folder), "a", encoding="utf-8", buffering=1)
        self.stopping = False
        self.best: tuple[float, dict[str, torch.Tensor], int] | None = None  # (validation accuracy, weights, epoch)
        self.paced = (0, 0.0)  # pictures of the whole epochs and their seconds: this computer's pace (pace.py)

    # ---- reporting --------------------------------------------------------------------------
    def say(self, text: str) -> None:
        stamp = time.strftime("%m/%d/%Y %H:%M:%S")
        self.log.write(f"[{stamp} INFO {os.getpid()}] {text}\n")

    def state(self, secondary: str, message: str, status: str = "InProgress", **fields: Any) -> None:
        now = time.time()
        if self.status.get("secondary_status") != secondary:
            self.status.setdefault("history", []).append({"status": secondary, "started_at": now, "message": message})
        self.status.update(status=status, secondary_status=secondary, **fields)
        jobs.write_status(self.folder, self.status)

    def metric(self, epoch: int, name: str, value: float) -> None:
        self.status.setdefault("metrics", []).append({"epoch": epoch, "name": name, "value": round(value, 6)})
        jobs.write_status(self.folder, self.status)

    def should_stop(self) -> bool:
        return self.stopping or jobs.stop_requested(self.folder)

    # ---- the job ------------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        try:
            self._run()
            return 0
        except WizardError as error:
            self._fail(f"ClientError: {error.message}" + (f" {error.hint}" if error.hint else ""))
        except Exception as error:  # whatever torch raises: a one-line reason, the rest to engine.err
            traceback.print_exc(file=sys.stderr)
            self._fail(f"AlgorithmError: {type(error).__name__}: {' '.join(str(error).split())[:500]}")
        return 1

    def _fail(self, reason: str) -> None:
        self.say(reason)
        self.state("Failed", reason, status="Failed", failure_reason=reason, ended_at=time.time())

    def _run(self) -> None:
        from sagewiz.core.hyperparams import Hyperparameters
        from sagewiz.core.local.data import open_channel
        from sagewiz.core.local.transforms import EvalTransform, TrainTransform

        self.state("Starting", "Preparing the instances for training")
        hp = Hyperparameters.from_sagemaker(self.spec["hyperparameters"])  # HyperparameterError: the field named
        self.say(f"Reading hyperparameters: {dict(sorted(self.spec['hyperparameters'].items()))}")
        device = self._device()
        seed = int(self.spec.get("seed", 0))
        torch.manual_seed(seed)

        self.state("Downloading", "Reading the input data")
        shape = hp.image_shape_tuple
        channels = self.spec["channels"]
        train = open_channel("train", channels, hp.num_classes, TrainTransform(shape, hp.augmentation_type, seed, resize=hp.resize),
                             hp.multi_label)
        validation = open_channel("validation", channels, hp.num_classes, EvalTransform(shape, hp.resize), hp.multi_label)
        if len(train) < hp.mini_batch_size:
            raise ClientError(f"The number of input images must be bigger or equal to the mini_batch_size: the train channel "
                              f"has {len(train)} images and mini_batch_size is {hp.mini_batch_size}.",
                              hint=f"Set mini_batch_size to {len(train)} or less.")
        self.say(f"train: {len(train)} images, validation: {len(validation)} images, {hp.num_classes} classes")
        model = self._model(hp, device)
        self.state("Training", "Training image download completed. Training in progress.")
        self._train(hp, model, train, validation, device, seed)

    def _device(self) -> torch.device:
        wanted = self.spec.get("device", "auto")
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ClientError("The job asks for a CUDA GPU, but torch sees none on this computer.", hint="Train on the CPU instead.")
        device = torch.device("cuda" if wanted != "cpu" and torch.cuda.is_available() else "cpu")
        if device.type == "cpu":
            from sagewiz.core.local.cores import usable_cores

            torch.set_num_threads(usable_cores())
            self.say(f"Training on the CPU with {torch.get_num_threads()} threads")
        else:
            self.say(f"Training on {torch.cuda.get_device_name(device)}")
        return device

    def _model(self, hp, device: torch.device) -> torch.nn.Module:
        from sagewiz.core.local.resnet import build_resnet
        from sagewiz.core.model.archive import read_archive
        from sagewiz.core.model.weights import load_checkpoint_params

        try:
            model = build_resnet(hp.num_layers, hp.num_classes, hp.image_shape_tuple, channels_last=device.type == "cpu")
        except ValueError as error:
            raise ClientError(str(error)) from None
        model_channel = self.spec["channels"].get("model")
        if model_channel:  # incremental training: the earlier model (either backend's) must be the same network
            info, params = read_archive(model_channel["path"])
            for field, theirs, ours in (("num_classes", info.num_classes, hp.num_classes), ("num_layers", info.num_layers, hp.num_layers),
                                        ("image_shape", ",".join(map(str, info.image_shape)), hp.image_shape)):
                if str(theirs) != str(ours):
                    raise ClientError(f"Incremental training needs the same {field} as the model it continues: the model channel's "
                                      f"model has {field}={theirs}, this job has {field}={ours}.",
                                      hint=f"Set {field} to {theirs}, or train a new model without the model channel.")
            load_checkpoint_params(model, params, source="The model channel's weights")
            self.say(f"Continuing from the model in the model channel ({info.job_name or 'earlier job'}, {info.epochs_trained} epochs)")
        elif hp.use_pretrained_model:
            self._start_from_pretrained(model)
        return model.to(device)

    def _start_from_pretrained(self, model: torch.nn.Module) -> None:
        """Transfer learning, as the algorithm does it: every layer from the pretrained network but
        the last (fc1), which starts afresh for these classes."""
        from sagewiz.core.errors import WizardError
        from sagewiz.core.model.params import load_params
        from sagewiz.core.model.weights import state_dict_keys

        weights = self.spec.get("pretrained_weights")
        if not weights:
            raise ClientError("use_pretrained_model=1 needs a pretrained network, and none is installed on this computer "
                              "for this num_layers and image_shape.",
                              hint="Install one with `sagewiz pretrained download 18` (or `sagewiz pretrained add FILE`), "
                                   "or set use_pretrained_model=0.")
        try:
            params = {name.split(":", 1)[-1]: array for name, array in load_params(Path(weights)).items()}
        except WizardError as error:
            raise ClientError(f"The pretrained network in {weights} can't be read: {error.message}",
                              hint="Add it again with `sagewiz pretrained add FILE` or `sagewiz pretrained download DEPTH`.") from None
        state = model.state_dict()
        wanted = {name.split(":", 1)[-1]: key for name, key in state_dict_keys(model).items() if not key.startswith("fc1.")}
        missing = sorted(name for name in wanted if name not in params)
        wrong = sorted(name for name, key in wanted.items() if name in params and tuple(params[name].shape) != tuple(state[key].shape))
        if missing or wrong:
            raise ClientError(f"The pretrained network in {weights} is not this network: "
                              + "; ".join(filter(None, [f"missing {', '.join(missing[:3])}" if missing else "",
                                                        f"other shapes for {', '.join(wrong[:3])}" if wrong else ""])) + ".",
                              hint="Install the pretrained network for this num_layers with `sagewiz pretrained`.")
        with torch.no_grad():
            for name, key in wanted.items():
                state[key].copy_(torch.from_numpy(params[name]))
        self.say(f"Starting from the pretrained network ({self.spec.get('pretrained_source') or weights}); "
                 "only the last layer starts from scratch")

    def _optimizer(self, hp, model: torch.nn.Module) -> torch.optim.Optimizer:
        params, lr = model.parameters(), hp.learning_rate
        if hp.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, betas=(hp.beta_1, hp.beta_2), eps=hp.eps)
        if hp.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, alpha=hp.gamma, eps=hp.eps)
        nesterov = hp.optimizer == "nag" and hp.momentum > 0
        return torch.optim.SGD(params, lr=lr, momentum=hp.momentum, weight_decay=hp.weight_decay, nesterov=nesterov)

    def _train(self, hp, model, train, validation, device, seed: int) -> None:
        from sagewiz.core.local.data import StartedLoader, count_by_label, loader

        optimizer = self._optimizer(hp, model)
        steps = [s for s in hp.lr_scheduler_steps if s > 0]
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=steps, gamma=hp.lr_scheduler_factor) if steps else None
        from sagewiz.core.local.mixed_precision import unmeasured
        from sagewiz.core.local.precision import choose

        if hp.precision_dtype == "float16" and device.type == "cpu" and unmeasured(hp.image_shape_tuple[1]):
            self.say("Measuring whether mixed precision (bfloat16) trains faster than float32 on this computer "
                     "(a few seconds, once)")
        self.precision = choose(hp.precision_dtype, device.type, hp.image_shape_tuple[1])
        self.say(f"Arithmetic: {self.precision.said}" + (f". {self.precision.note}" if self.precision.note else ""))
        scaler = torch.amp.GradScaler("cuda") if self.precision.needs_loss_scaling else None
        pos_weight = None
        if hp.multi_label and hp.use_weighted_loss:
            counts = torch.tensor(count_by_label(train.labels, hp.num_classes), dtype=torch.float32).clamp(min=1)
            pos_weight = ((len(train) - counts) / counts).to(device)
        workers = _workers(train)
        train_batches = loader(train, hp.mini_batch_size, shuffle=True, seed=seed, workers=workers, drop_last=True,
                               pin_memory=device.type == "cuda")
        validation_batches = loader(validation, hp.mini_batch_size, shuffle=False, seed=seed, workers=workers, drop_last=False)
        train_batches, validation_batches = StartedLoader(train_batches), StartedLoader(validation_batches)  # forked while memory is small
        top_k = hp.top_k
        patience_left, best_accuracy = hp.early_stopping_patience, -1.0
        threads = None
        if device.type == "cpu":
            from sagewiz.core.local.cores import usable_cores
            from sagewiz.core.local.threads import ThreadChooser

            threads = ThreadChooser(usable_cores(), self.say)

        for epoch in range(hp.epochs):
            started = time.monotonic()
            model.train()
            hits, seen = torch.zeros(2, dtype=torch.long, device=device), 0
            window_start, window_seen = time.monotonic(), 0
            if threads:
                threads.pause()  # the validation since the last step was no step
            for batch, (images, labels) in enumerate(train_batches, 1):
                x, y = _to_input(images, device), labels.to(device, non_blocking=True)
                with self.precision.autocast():
                    logits = model(x)
                    loss = _loss(logits, y, hp.multi_label, pos_weight)
                optimizer.zero_grad(set_to_none=True)
                if scaler:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                hits += _hits(logits.detach(), y, hp.multi_label, top_k)
                seen += len(y)
                if threads:
                    threads.step(len(y))
                window_seen += len(y)
                if batch % SPEEDOMETER_BATCHES == 0:
                    speed = window_seen / max(time.monotonic() - window_start, 1e-9)
                    self.say(f"Epoch[{epoch}] Batch [{batch}]\tSpeed: {speed:.2f} samples/sec\taccuracy={int(hits[0]) / seen:.6f}")
                    window_start, window_seen = time.monotonic(), 0
                if self.should_stop():
                    break
            if self.should_stop() and epoch > 0 and seen < len(train) // 2:
                break  # a stop early in an epoch: its partial numbers would mislead
            if seen:
                correct, top_correct = hits.tolist()
                self._report(epoch, "Train", correct / seen, top_correct / seen, top_k)
            self.say(f"Epoch[{epoch}] Time cost={time.monotonic() - started:.3f}")
            accuracy = self._validate(hp, model, validation_batches, device, epoch, top_k)
            if scheduler:
                scheduler.step()
            improved = accuracy > best_accuracy * (1 + hp.early_stopping_tolerance)
            if accuracy > best_accuracy:
                self.best = (accuracy, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch)
                self.say(f"Saved the model of epoch {epoch}: best validation accuracy so far")
            best_accuracy = max(best_accuracy, accuracy)
            if hp.checkpoint_frequency and (epoch + 1) % hp.checkpoint_frequency == 0:
                self._checkpoint(model, epoch)
            if seen == len(train) // hp.mini_batch_size * hp.mini_batch_size:  # a whole epoch, validated
                self.paced = (self.paced[0] + len(train), self.paced[1] + time.monotonic() - started)
            if self.should_stop():
                break
            patience_left = hp.early_stopping_patience if improved else patience_left - 1
            if hp.early_stopping and epoch + 1 >= hp.early_stopping_min_epochs and patience_left <= 0:
                self.say(f"Early stopping: no improvement of validation accuracy in {hp.early_stopping_patience} epochs")
                break
        self._finish(hp, model, stopped=self.should_stop())

    def _validate(self, hp, model, batches, device, epoch: int, top_k: int | None) -> float:
        model.eval()
        hits, seen = torch.zeros(2, dtype=torch.long, device=device), 0
        with torch.inference_mode(), self.precision.autocast():
            for images, labels in batches:
                logits = model(_to_input(images, device)).float()
                hits += _hits(logits, labels.to(device), hp.multi_label, top_k)
                seen += len(labels)
        correct, top_correct = hits.tolist()
        accuracy = correct / max(seen, 1)
        self._report(epoch, "Validation", accuracy, top_correct / max(seen, 1), top_k)
        return accuracy

    def _report(self, epoch: int, split: str, accuracy: float, top_accuracy: float, top_k: int | None) -> None:
        self.say(f"Epoch[{epoch}] {split}-accuracy={accuracy:.6f}")
        self.metric(epoch, f"{split.lower()}:accuracy", accuracy)
        if top_k:
            self.say(f"Epoch[{epoch}] {split}-top_k_accuracy_{top_k}={top_accuracy:.6f}")
            self.metric(epoch, f"{split.lower()}:top_k_accuracy_{top_k}", top_accuracy)

    def _checkpoint(self, model, epoch: int) -> None:
        folder = self.folder / "checkpoints"
        folder.mkdir(exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, folder / f"epoch-{epoch:04d}.pt")
        self.say(f"Saved checkpoint for epoch {epoch}")

    def _finish(self, hp, model, *, stopped: bool) -> None:
        from sagewiz.core.local.artifact import write_artifact
        from sagewiz.core.model.archive import ModelInfo

        self.state("Uploading", "Writing the model artifact", status="Stopping" if stopped else "InProgress")
        epoch = self.best[2] if self.best else -1
        if self.best and not hp.checkpoint_frequency:  # the docs: the epoch with the best validation accuracy
            model.load_state_dict(self.best[1])
        else:
            epoch = max((m["epoch"] for m in self.status.get("metrics", [])), default=-1)
        output = Path(self.spec.get("output_dir") or self.folder / "output")
        output.mkdir(parents=True, exist_ok=True)
        info = ModelInfo(hp.num_layers, hp.num_classes, hp.image_shape_tuple, tuple(self.spec.get("class_names") or ()),
                         dict(self.spec["hyperparameters"]), epoch + 1, self.spec.get("job_name", self.folder.name))
        path = write_artifact(output / "model.tar.gz", model.to("cpu"), info)
        self.say(f"Model saved to {path}")
        end, message = ("Stopped", "Training job stopped; the best model so far was kept") if stopped \
            else ("Completed", "Training job completed")
        self.state(end, message, status=end, model_path=str(path), ended_at=time.time(), **self._pace(hp))

    def _pace(self, hp) -> dict:
        """The pace of this job's whole epochs, for the next estimate on this computer (pace.py)."""
        from sagewiz.core.local.pace import job_pace

        pictures, seconds = self.paced
        if not pictures or self.spec.get("device", "auto") == "cpu" and torch.cuda.is_available():
            return {}  # no whole epoch; or a CPU job on a computer whose estimates are its GPU's
        return {"pace": job_pace(depth=hp.num_layers, side=hp.image_shape_tuple[1], mixed_gain=self.precision.gain,
                                 pictures=pictures, seconds=seconds)}


def _workers(dataset) -> int:
    """Decode in this process when the whole channel fits the cache, else one worker per core."""
    height, width = dataset.transform.height, dataset.transform.width
    if len(dataset) * height * width * 3 * 4 <= CACHE_LIMIT_BYTES and height * width <= 64 * 64:
        dataset.cache_decoded = True
        return 0
    from sagewiz.core.local.cores import usable_cores

    return usable_cores()


def _to_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    from sagewiz.core.local.transforms import batch_to_float

    return batch_to_float(images.to(device, non_blocking=True), channels_last=device.type == "cpu")


def _loss(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool, pos_weight: torch.Tensor | None) -> torch.Tensor:
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits.float(), labels, pos_weight=pos_weight)
    return F.cross_entropy(logits.float(), labels)


def _hits(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool, top_k: int | None) -> torch.Tensor:
    """[correct, correct within the top k] in a batch, as a tensor on the batch's device: adding
    these up and reading them only when the log needs them keeps the step free of host syncs
    (on a GPU, ``.item()`` per step waits for every kernel). Multi-label counts a picture right
    when every one of its labels is predicted (probability ≥ 0.5) and nothing else is."""
    if multi_label:
        exact = ((logits.sigmoid() >= 0.5) == (labels >= 0.5)).all(dim=1).sum()
        return torch.stack((exact, exact))
    correct = (logits.argmax(dim=1) == labels).sum()
    if not top_k:
        return torch.stack((correct, correct))
    k = min(top_k, logits.shape[1])
    top = (logits.topk(k, dim=1).indices == labels.unsqueeze(1)).any(dim=1).sum()
    return torch.stack((correct, top))


def run_job(folder: str | os.PathLike) -> int:
    """Run the job in ``folder`` to its end; the process exit code."""
    from sagewiz.core.local.memory import keep_freed_memory

    keep_freed_memory()  # this process only trains: each step reuses the last one's memory (1.1-1.25x)
    return Engine(Path(folder)).run()
