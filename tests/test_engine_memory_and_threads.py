"""Where the engine's time went besides the arithmetic (issue 18): every batch faulting in fresh
memory from the kernel, and the endpoint's forward passes running on a thread other than the
main one, whose OpenMP team then waits on the main thread's."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time

import pytest

from sagewiz.core.local import batching, memory, serve
from test_predict_cli import archive, picture  # noqa: F401 - the same small model
from test_serve_cli import invoke

pytestmark = pytest.mark.usefixtures("float32_inference")

REPEATED_PASSES = r'''
import resource, sys, torch
if sys.argv[1] == "keep":
    from sagewiz.core.local.memory import keep_freed_memory
    assert keep_freed_memory()
torch.set_num_threads(1)
from sagewiz.core.local.resnet import build_resnet
network = build_resnet(20, 10, (3, 28, 28), channels_last=True).eval()
pictures = torch.rand(32, 3, 28, 28).to(memory_format=torch.channels_last) * 255
with torch.inference_mode():
    for _ in range(3):
        network(pictures)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        network(pictures)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


def page_faults_of_five_more_passes(how: str) -> int:
    done = subprocess.run([sys.executable, "-c", REPEATED_PASSES, how], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc is the one told to keep freed memory")
def test_a_batch_run_again_reuses_the_last_ones_memory_instead_of_faulting_in_fresh_pages():
    as_before = page_faults_of_five_more_passes("plain")
    kept = page_faults_of_five_more_passes("keep")

    print(f"page faults over 5 forward passes of ResNet-20, batch 32: {as_before} as malloc does by default, {kept} kept")
    assert kept * 20 < as_before  # measured here: 33,000 against 390


def test_the_endpoint_runs_its_model_on_the_main_thread_and_keeps_freed_memory(archive, tmp_path, monkeypatch):  # noqa: F811
    ran_on, asked = [], []
    real_forward = batching.forward

    def forward(*args, **kwargs):
        ran_on.append(threading.current_thread())
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(batching, "forward", forward)
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: asked.append(True) or True)  # not this test process's malloc
    ready, answers = tmp_path / "ready.json", []
    body = picture(tmp_path / "one.png", 3).read_bytes()

    def client() -> None:
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            answers.append(invoke(json.loads(ready.read_text())["url"], body))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the endpoint's own way to stop

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    threading.Thread(target=client, daemon=True).start()
    code = serve.main(["--model", str(archive), "--port", "0", "--ready-file", str(ready)])

    assert code == 0 and [status for status, _ in answers] == [200]
    assert ran_on == [threading.main_thread()] and asked == [True]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers  # put back
    assert not ready.exists()


def test_a_stop_the_kernel_hands_to_another_thread_still_stops_the_endpoint(archive, tmp_path):  # noqa: F811
    """A process's signal goes to any of its threads. One taken by another thread than the main
    one, which waited for pictures without a timeout, never ran its handler: a CI run hung here."""
    ready, stopped, woken = tmp_path / "ready.json", threading.Event(), []
    main = threading.main_thread().ident

    def client() -> None:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the model's thread waiting for pictures
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # taken by this thread, not the main one
        if not stopped.wait(10):  # still serving: wake the main thread so the test ends, and fail
            woken.append(True)
            signal.pthread_kill(main, signal.SIGTERM)

    threading.Thread(target=client, daemon=True).start()
    code = serve.main(["--model", str(archive), "--port", "0", "--ready-file", str(ready)])
    stopped.set()
    assert code == 0 and not woken, "the endpoint went on serving after its SIGTERM"


def test_every_decoding_process_is_started_before_the_first_training_step(tmp_path, monkeypatch):
    """A worker process forked later shares all the memory training has kept by then, and the
    kernel copies each page on the trainer's next write: the validation workers forked at the
    first validation cost a ResNet-18 job at 224 px 3.5 s in the step after it."""
    import multiprocessing

    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.local import engine
    from sagewiz.core.local import job as jobs
    from sagewiz.core.local.cores import usable_cores
    from sagewiz.core.prepare import prepare_dataset

    write_sample_dataset(tmp_path / "pictures", size=72, classes=[0, 1], seed=1)  # above 64 px: decoded by workers
    prepared = prepare_dataset(scan_dataset(tmp_path / "pictures"), tmp_path / "packed", resize=72)
    children_at_first_step = []
    to_input = engine._to_input

    def first_batch(images, device):
        if not children_at_first_step:
            children_at_first_step.append(len(multiprocessing.active_children()))
        return to_input(images, device)

    monkeypatch.setattr(engine, "_to_input", first_batch)
    folder = tmp_path / "job"
    hp = {"num_classes": "2", "num_layers": "18", "image_shape": "3,72,72", "mini_batch_size": "16", "epochs": "1",
          "learning_rate": "0.01", "num_training_samples": str(prepared.counts["train"])}
    jobs.write_spec(folder, {"job_name": "job", "hyperparameters": hp, "device": "cpu", "class_names": ["0", "1"],
                             "output_dir": str(folder / "output"),
                             "channels": {split: {"path": str(path), "content_type": "application/x-recordio"}
                                          for split, path in (("train", prepared.train_rec), ("validation", prepared.validation_rec))}})
    assert engine.run_job(folder) == 0, jobs.log_path(folder).read_text()
    assert children_at_first_step == [2 * usable_cores()]  # the training and the validation loader's workers
