"""A trained model answers predictions through its inference form — BatchNorm folded into the
convolutions where that is exact, oneDNN's kernels, bfloat16 only where it measures faster — and
the form answers like the plain float32 network: within 1e-5 for every network family, the same
top-1 on the whole digits sample's test set, within 1e-2 in bfloat16. `sagewiz predict`, the
endpoint and evaluation through it really answer with the form."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.evaluate import evaluate
from sagewiz.core.local import inference
from sagewiz.core.local import job as jobs
from sagewiz.core.local.artifact import load_model
from sagewiz.core.local.batching import Batcher, Stats
from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.local.engine import run_job
from sagewiz.core.local.inference import InferenceForm, fold_batchnorms, inference_form
from sagewiz.core.local.cores import NO_BF16_VARIABLE
from sagewiz.core.local.resnet import BatchNorm, build_resnet
from sagewiz.core.local.transforms import batch_to_float
from sagewiz.core.model.find import FoundModel
from sagewiz.core.predict import find_pictures, predict_pictures
from sagewiz.core.prepare import prepare_dataset

SHAPE = (3, 28, 28)


def probability_gap(logits: torch.Tensor, expected: torch.Tensor) -> float:
    return (torch.softmax(logits.float(), 1) - torch.softmax(expected.float(), 1)).abs().max().item()


def network_as_if_trained(num_layers: int, side: int, seed: int = 0) -> torch.nn.Module:
    """A network whose every BatchNorm has statistics, scale and shift of its own (folding ones
    and zeros would prove nothing), answering with probabilities far from 0 and 1."""
    torch.manual_seed(seed)
    model = build_resnet(num_layers, 10, (3, side, side)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BatchNorm):
                module.moving_mean.uniform_(-0.5, 0.5)
                module.moving_var.uniform_(0.5, 2.0)
                module.gamma.uniform_(0.5, 1.5)
                module.beta.uniform_(-0.3, 0.3)
        model.bn_data.moving_mean.fill_(127.0)
        model.bn_data.moving_var.fill_(74.0 ** 2)
        model.fc1.weight.mul_(0.02)
    return model


# ---- folding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_layers, side, folded, total", [
    pytest.param(20, 28, 10, 20, id="3-stage ResNet-20 at 28 px"),
    pytest.param(18, 32, 9, 18, id="4-stage ResNet-18, 3x3 stem, 32 px"),
    pytest.param(18, 224, 9, 19, id="4-stage ResNet-18 at 224 px"),
    pytest.param(50, 40, 33, 51, id="4-stage bottleneck ResNet-50 at 40 px"),
])
def test_folding_keeps_every_answer_in_every_network_family(num_layers, side, folded, total):
    model = network_as_if_trained(num_layers, side)
    pictures = (torch.rand(3, 3, side, side, generator=torch.Generator().manual_seed(1)) * 255).to(memory_format=torch.channels_last)

    folding = fold_batchnorms(model)
    form = inference_form(model, (3, side, side), precision="float32")

    assert (folding.folded, folding.total) == (folded, total)
    # What stays is what precedes a convolution (pre-activation units: BN → ReLU → conv) or the pool
    kept = [name for name, module in folding.network.named_modules() if isinstance(module, BatchNorm)]
    assert len(kept) == total - folded
    assert all(name in ("bn_data", "bn1") or name.endswith(".bn1") for name in kept)
    with torch.inference_mode():
        expected = model(pictures)
        assert torch.softmax(expected, 1).max() < 0.99  # answers far from certain: the comparison can fail
        assert probability_gap(folding.network(pictures), expected) <= 1e-5
        assert probability_gap(form(pictures), expected) <= 1e-5
    assert form.precision == "float32" and form.folded == folded


# ---- a model trained on the digits sample ----------------------------------------------------------

def read_pictures(paths) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])).permute(0, 3, 1, 2)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits sample at 28 px, ResNet-20 trained on it for two epochs by the local engine (a
    model sure of most digits and unsure of some), and the plain float32 network's answers on the
    whole test set."""
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28)
    prepared = prepare_dataset(scan_dataset(root), tmp_path_factory.mktemp("prepared"), resize=28)
    job = tmp_path_factory.mktemp("job")
    hyperparameters = {"num_classes": "10", "num_layers": "20", "image_shape": "3,28,28", "mini_batch_size": "32",
                       "epochs": "2", "learning_rate": "0.05", "resize": "28",
                       "num_training_samples": str(prepared.counts["train"])}
    channels = {split: {"path": str(path), "content_type": "application/x-recordio"}
                for split, path in (("train", prepared.train_rec), ("validation", prepared.validation_rec))}
    jobs.write_spec(job, {"job_name": "digits", "hyperparameters": hyperparameters, "channels": channels,
                          "class_names": list(prepared.class_names), "output_dir": str(job / "output"), "device": "cpu"})
    run_job(job)
    archive = job / "output" / "model.tar.gz"
    info, model = load_model(archive)
    test = sorted((root / "test").glob("*/*.png"))
    pictures = batch_to_float(read_pictures(test))
    with torch.inference_mode():
        expected = model(pictures)
    truth = [list(info.class_names).index(path.parent.name) for path in test]
    return {"model": model, "archive": archive, "classes": info.class_names, "test": test, "truth": truth,
            "pictures": pictures, "expected": expected}


def test_the_trained_model_is_one_worth_comparing_on(digits):
    top1 = digits["expected"].argmax(1)
    accuracy = (top1 == torch.tensor(digits["truth"])).float().mean().item()
    sureness = torch.softmax(digits["expected"], 1).amax(1)
    assert len(digits["test"]) > 300 and accuracy > 0.6  # it has learnt the digits
    assert (sureness < inference.SURE).any() and (sureness > 0.99).any()  # sure of some, unsure of others


def test_the_float32_form_answers_the_whole_sample_test_set_like_the_float32_network(digits):
    form = inference_form(digits["model"], SHAPE, precision="float32")
    with torch.inference_mode():
        answers = form(digits["pictures"])
    assert torch.equal(answers.argmax(1), digits["expected"].argmax(1))
    assert probability_gap(answers, digits["expected"]) <= 1e-5


@pytest.mark.skipif(not (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()),
                    reason="this CPU has neither AMX nor AVX-512 BF16: "
                                           "bfloat16 would be emulated, and the form never chooses it")
def test_the_bfloat16_form_answers_the_whole_sample_test_set_within_a_hundredth(digits):
    form = inference_form(digits["model"], SHAPE, precision="bfloat16")
    again = form.run.answered_again
    with torch.inference_mode():
        answers = form(digits["pictures"])
    again = form.run.answered_again - again

    assert form.precision == "bfloat16" and form.said.startswith("runs as bfloat16 (convolutions;")
    assert torch.equal(answers.argmax(1), digits["expected"].argmax(1))
    assert 0 < probability_gap(answers, digits["expected"]) <= 1e-2  # really in bfloat16, and close
    assert 0 < again < len(digits["test"]) / 2  # the unsure pictures, answered again in float32


# ---- which precision ----------------------------------------------------------------------------

def test_sagewiz_no_bf16_keeps_float32_without_building_a_bfloat16_form(monkeypatch):
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "with_bfloat16_convolutions", lambda network: pytest.fail("no bfloat16 form"))
    timed = []
    monkeypatch.setattr(inference, "probe_speed", lambda *args: timed.append(args) or 1.0)

    form = inference_form(network_as_if_trained(20, 28), SHAPE)

    assert form.precision == "float32"
    assert form.said.startswith("runs as float32, 10 of 20 BatchNorms folded") and NO_BF16_VARIABLE in form.said
    assert len(timed) <= 1  # at most the two float32 forms against each other


@pytest.mark.parametrize("measured, chosen", [(2.0, "bfloat16"), (1.1, "float32"), (0.6, "float32")])
def test_bfloat16_is_chosen_only_where_it_measures_clearly_faster(monkeypatch, measured, chosen):
    monkeypatch.delenv(NO_BF16_VARIABLE, raising=False)
    monkeypatch.setattr("sagewiz.core.local.cores.cpu_bf16", lambda: "AMX")
    monkeypatch.setattr(inference, "probe_speed", lambda *args: measured)

    form = inference_form(network_as_if_trained(20, 28), SHAPE)

    assert form.precision == chosen
    assert f"bfloat16 on the CPU's AMX measured {measured:.2f}× TorchScript's float32 speed" in form.said


# ---- ONNX Runtime ---------------------------------------------------------------------------------

needs_onnxruntime = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                       reason="onnxruntime is not installed (the local extra has it)")


@needs_onnxruntime
def test_bfloat16_is_weighed_against_torchscripts_float32_even_where_onnx_runtime_is_faster(monkeypatch):
    """The probe is a picture or a few, where ONNX Runtime does best and bfloat16 least: weighed
    against ONNX Runtime there, bfloat16 lost at ResNet-18/224 and batches of 32 ran 0.96x MXNet's
    speed where bfloat16 runs them 1.5x."""
    from sagewiz.core.local.onnx_runtime import OnnxRuntimeNetwork

    monkeypatch.delenv(NO_BF16_VARIABLE, raising=False)
    monkeypatch.setattr("sagewiz.core.local.cores.cpu_bf16", lambda: "AVX-512 BF16")
    timed = []

    def probe_speed(first, second, probe):
        timed.append((first, second))
        return 1.4 if isinstance(second, OnnxRuntimeNetwork) else 1.3  # ONNX Runtime 1.4x, bfloat16 1.3x TorchScript

    monkeypatch.setattr(inference, "probe_speed", probe_speed)

    form = inference_form(network_as_if_trained(20, 28), SHAPE)

    (scripted, runtime), (against, reduced) = timed
    assert isinstance(runtime, OnnxRuntimeNetwork) and against is scripted and isinstance(reduced, inference.SureOrAgain)
    assert reduced.exact is scripted  # its unsure pictures answered again by the form it was timed against
    assert form.precision == "bfloat16"
    assert "bfloat16 on the CPU's AVX-512 BF16 measured 1.30× TorchScript's float32 speed" in form.said


@needs_onnxruntime
@pytest.mark.parametrize("num_layers, side", [
    pytest.param(20, 28, id="3-stage ResNet-20 at 28 px"),
    pytest.param(18, 224, id="4-stage ResNet-18 at 224 px"),
    pytest.param(50, 40, id="4-stage bottleneck ResNet-50 at 40 px"),
])
def test_onnx_runtime_answers_like_the_float32_network_where_it_measures_faster(monkeypatch, num_layers, side):
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 3.0)  # as if it were 3× TorchScript
    model = network_as_if_trained(num_layers, side)
    pictures = (torch.rand(5, 3, side, side, generator=torch.Generator().manual_seed(4)) * 255).to(memory_format=torch.channels_last)

    form = inference_form(model, (3, side, side))

    assert form.kernels == "ONNX Runtime's kernels (MLAS)" and form.precision == "float32"
    assert "ONNX Runtime measured 3.00× TorchScript's speed at load" in form.said
    with torch.inference_mode():
        assert probability_gap(form(pictures), model(pictures)) <= 1e-5


@needs_onnxruntime
def test_where_onnx_runtime_answers_torch_keeps_one_thread_and_the_chooser_steers_onnx_runtimes(monkeypatch):
    from sagewiz.core.local.cores import usable_cores

    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 3.0)
    model = network_as_if_trained(20, 28)
    pictures = torch.rand(3, *SHAPE) * 255

    form = inference_form(model, SHAPE)
    torch_threads, answering = torch.get_num_threads(), form.run.threads
    inference._threads().set_threads(1)  # what the chooser does when fewer threads measure faster
    with torch.inference_mode():
        form(pictures)
    sessions = {count: form.run.session(count).get_session_options().intra_op_num_threads for count in (1, answering)}
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 0.5)
    torchscript = inference_form(model, SHAPE)  # TorchScript answers: torch's threads are the chooser's again

    assert torch_threads == 1 and answering == usable_cores()
    assert form.run.threads == 1 and sessions == {1: 1, answering: answering}
    assert torchscript.kernels == "oneDNN fused kernels (TorchScript)" and torch.get_num_threads() == inference._threads().current


@needs_onnxruntime
def test_a_form_built_after_one_onnx_runtime_answers_with_is_timed_on_all_the_threads(monkeypatch):
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 3.0)
    inference_form(network_as_if_trained(20, 28), SHAPE)  # ONNX Runtime answers: torch keeps one thread
    timed_on = []
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: timed_on.append(torch.get_num_threads()) or 3.0)

    inference_form(network_as_if_trained(18, 32), (3, 32, 32))

    assert timed_on == [inference._threads().current]  # TorchScript on one thread would read slow


@needs_onnxruntime
def test_torchscript_answers_where_onnx_runtime_is_slower_missing_or_fails(monkeypatch):
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    model = network_as_if_trained(20, 28)

    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 0.95)  # under ONNX_MUST_BE_FASTER
    slower = inference_form(model, SHAPE)
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # as if it weren't installed
    missing = inference_form(model, SHAPE)
    monkeypatch.undo()
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")

    def refuse(*args, **kwargs):
        raise RuntimeError("exporter is gone")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    failed = inference_form(model, SHAPE)

    assert slower.kernels == missing.kernels == failed.kernels == "oneDNN fused kernels (TorchScript)"
    assert "ONNX Runtime measured 0.95× TorchScript's speed at load" in slower.said
    assert "ONNX Runtime" not in missing.said
    assert "ONNX Runtime failed (RuntimeError: exporter is gone)" in failed.said


@needs_onnxruntime
def test_where_torchscript_cant_freeze_onnx_runtime_is_measured_against_the_eager_network(monkeypatch):
    def refuse(network, example):
        raise RuntimeError("tracing is gone")

    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "_frozen", refuse)
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 3.0)

    form = inference_form(network_as_if_trained(20, 28), SHAPE)

    assert form.kernels == "ONNX Runtime's kernels (MLAS)"
    assert "ONNX Runtime measured 3.00× the eager network's speed" in form.said
    assert "TorchScript failed (RuntimeError: tracing is gone)" in form.said


@needs_onnxruntime
def test_an_onnx_runtime_form_answering_outside_float32s_tolerance_gives_way_to_torchscript(monkeypatch):
    from sagewiz.core.local import onnx_runtime

    monkeypatch.setenv(NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(inference, "probe_speed", lambda first, second, probe: 3.0)
    monkeypatch.setattr(onnx_runtime.OnnxRuntimeNetwork, "__call__", lambda self, batch: torch.zeros(len(batch), 10))

    form = inference_form(network_as_if_trained(20, 28), SHAPE)

    assert form.kernels == "oneDNN fused kernels (TorchScript)"
    assert "the float32 form answered outside 1e-05 of the plain network and was dropped" in form.said


def test_the_bfloat16_answers_it_is_unsure_of_are_answered_again_in_float32():
    reduced = torch.tensor([[4.0, 0.0, 0.0], [1.0, 0.8, 0.0], [-4.0, 4.0, -4.0]])  # sure, unsure, sure
    exact = torch.full((3, 3), 7.0)
    pictures = torch.arange(3.0).reshape(3, 1, 1, 1)
    one_of = inference.SureOrAgain(lambda batch: reduced.clone(), lambda batch: exact[batch.flatten().long()], multi_label=False)
    each_on_its_own = inference.SureOrAgain(lambda batch: reduced.clone(), lambda batch: exact[batch.flatten().long()],
                                            multi_label=True)

    assert one_of(pictures).tolist() == [[4.0, 0.0, 0.0], [7.0, 7.0, 7.0], [-4.0, 4.0, -4.0]]
    assert one_of.answered_again == 1
    # each class on its own: sigmoid(0) = 0.5 is unsure, so the first picture is run again as well
    assert each_on_its_own(pictures).tolist() == [[7.0, 7.0, 7.0], [7.0, 7.0, 7.0], [-4.0, 4.0, -4.0]]


def test_a_network_torchscript_cant_freeze_answers_eager_and_says_so(monkeypatch):
    def refuse(network, example):
        raise RuntimeError("tracing is gone")

    monkeypatch.setattr(inference, "_frozen", refuse)
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # eager's story, not ONNX Runtime's
    model = network_as_if_trained(20, 28)
    pictures = (torch.rand(4, *SHAPE, generator=torch.Generator().manual_seed(2)) * 255).to(memory_format=torch.channels_last)

    form = inference_form(model, SHAPE, precision="float32")

    assert form.kernels == "eager" and "TorchScript failed (RuntimeError: tracing is gone)" in form.said
    with torch.inference_mode():
        assert probability_gap(form(pictures), model(pictures)) <= 1e-5


def test_a_network_torch_fx_cant_trace_is_answered_by_the_plain_network(monkeypatch):
    def refuse(model):
        raise TypeError("can't trace this")

    monkeypatch.setattr(inference, "fold_batchnorms", refuse)
    model = network_as_if_trained(20, 28)

    form = inference_form(model, SHAPE)

    assert form.run is model and form.said == "runs as float32, the plain network; folding failed (TypeError: can't trace this)"


# ---- predict, the endpoint and evaluation answer with it ------------------------------------------

@pytest.fixture
def answered(monkeypatch):
    """Each batch the endpoint and predict ran in this process: (whether an inference form ran it,
    how many pictures)."""
    from sagewiz.core.local import batching

    batches: list[tuple[bool, int]] = []
    forward = batching.forward

    def watched(model, pictures, *args):
        batches.append((isinstance(model, InferenceForm), len(pictures)))
        return forward(model, pictures, *args)

    monkeypatch.setattr(batching, "forward", watched)
    return batches


def test_predict_answers_the_whole_sample_test_set_with_the_form(digits, answered):
    found = FoundModel(described="the digits model", path=digits["archive"])

    result = predict_pictures(found, find_pictures([str(path) for path in digits["test"]]), device="cpu")

    assert all(by_form for by_form, _ in answered) and sum(n for _, n in answered) == len(digits["test"])
    assert result.runs_as.startswith("ResNet-20 runs as ") and "10 of 20 BatchNorms folded" in result.runs_as
    tolerance = 1e-5 if "runs as float32" in result.runs_as else 1e-2
    got = torch.tensor([answer.probabilities for answer in result.predictions])
    assert [answer.path for answer in result.predictions] == [str(path) for path in digits["test"]]
    assert torch.equal(got.argmax(1), digits["expected"].argmax(1))
    assert (got - torch.softmax(digits["expected"], 1)).abs().max().item() <= tolerance


def test_the_endpoints_model_thread_runs_the_form(digits, answered):
    stats = Stats()
    batcher = Batcher(digits["archive"], "cpu", stats, max_batch=4, wait_s=0.0)
    batcher.load()
    pixels = digits["pictures"][0].to(torch.uint8).permute(1, 2, 0).contiguous().numpy().tobytes()
    answer = batcher.submit(pixels)
    batcher.stop()
    batcher.run()  # answers what was queued before stop(), then returns
    probabilities = answer.result(timeout=0)
    assert answered == [(True, 1)] and isinstance(batcher.form, InferenceForm)
    assert stats.as_dict()["runs_as"] == batcher.form.said
    assert max(range(10), key=probabilities.__getitem__) == digits["expected"][0].argmax().item()


def test_the_endpoint_and_evaluation_through_it_answer_with_the_form(digits, tmp_path, monkeypatch):
    monkeypatch.setenv(NO_BF16_VARIABLE, "1")  # the endpoint's process: compared at 1e-5 below
    served = start_endpoint(digits["archive"], tmp_path / "run")
    try:
        runs_as = served.stats()["runs_as"]
        first = served.predict(digits["test"][0].read_bytes(), "image/png")
        result = evaluate([(path, label) for path, label in zip(digits["test"], digits["truth"])], served.predict,
                          digits["classes"], top_k=1)
    finally:
        served.stop()

    assert runs_as.startswith("runs as float32, 10 of 20 BatchNorms folded")
    assert f"ResNet-20 {runs_as}" in served.log_path.read_text()  # the endpoint's log says it too
    expected = torch.softmax(digits["expected"], 1)
    assert list(first.probabilities) == pytest.approx(expected[0].tolist(), abs=1e-5)
    top1 = digits["expected"].argmax(1)
    assert result.evaluated == len(digits["test"])
    assert result.accuracy == pytest.approx((top1 == torch.tensor(digits["truth"])).float().mean().item())


def test_a_form_is_judged_by_its_rounding_not_by_the_near_tie_an_untrained_network_magnifies():
    """An untrained network answers logits in the thousands (random weights on 0-255 pixels): float32's
    rounding, 5e-7 of them, moves a near-tie's probabilities by more than 1e-5. Such a form is as exact as
    the network itself and is kept (a benchmark's endpoint had answered with the plain network, 0.6× as
    fast, one load in four); one whose logits are off by a thousandth of their size is dropped."""
    expected = torch.tensor([[3000.0, 2999.99, -1500.0], [10.0, -2000.0, 500.0]])

    def form(error: float) -> InferenceForm:
        return InferenceForm(lambda batch: expected * (1 + torch.tensor([error, -error, 0.0])), "float32", "eager")

    rounded = inference._checked([form(5e-7)], torch.nn.Identity(), torch.zeros(2, 3), expected, multi_label=False)
    wrong = inference._checked([form(1e-3)], torch.nn.Identity(), torch.zeros(2, 3), expected, multi_label=False)

    assert probability_gap(expected * (1 + torch.tensor([5e-7, -5e-7, 0.0])), expected) > 1e-5  # the near tie
    assert rounded.kernels == "eager" and not rounded.note
    assert wrong.kernels == "the plain network" and "answered outside 1e-05" in wrong.note
