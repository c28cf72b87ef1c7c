"""Mixed precision where it trains faster on this computer: measured, not read from the CPU's
instruction names. AVX-512 BF16 alone trained at 0.35-0.75× float32's speed on one VM and
1.3-1.7× on another, so the probe that measures this computer's pace times bfloat16 too, and
the engine, the suggested settings and the time estimate all follow what it measured."""

import subprocess

import pytest
import torch

from sagewiz.core import estimates, suggestions
from sagewiz.core.hyperparams import Hyperparameters
from sagewiz.core.local import cores, mixed_precision, pace, precision


@pytest.fixture
def avx512_bf16(tmp_path, monkeypatch):
    """A computer whose CPU has AVX-512 BF16 but no AMX, with a fresh home and nothing measured."""
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    for variable in (pace.ASSUMED_VARIABLE, pace.ASSUMED_GAIN_VARIABLE, mixed_precision.FORCED_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(cores, "cpu_bf16", lambda: "AVX-512 BF16")
    monkeypatch.setattr(pace, "_failed", set())
    monkeypatch.setattr(pace, "_busy", {})
    return tmp_path / "home"


def probe_answers(monkeypatch, gains: dict[str, float], share: float = 0.97) -> list[str]:
    """The probe's process answering a float32 pace and ``gains`` by family; returns the families it was asked for."""
    asked = []

    def run(command, **_):
        family = command[-1]
        asked.append(family)
        return subprocess.CompletedProcess(command, 0, f"{ {'small': 900.0, 'large': 22.0}[family]:.2f} {share:.2f} "
                                                        f"{gains[family]:.3f}\n", "")

    monkeypatch.setattr(pace.subprocess, "run", run)
    return asked


def photos(**changes) -> Hyperparameters:
    settings = {"num_classes": "2", "num_training_samples": "800", "num_layers": "18", "image_shape": "3,224,224",
                "epochs": "5", "mini_batch_size": "32", **changes}
    return Hyperparameters.from_sagemaker(settings)


def test_a_job_asking_for_float16_measures_once_and_trains_in_bfloat16_where_it_measured_faster(avx512_bf16, monkeypatch):
    asked = probe_answers(monkeypatch, {"small": 1.05, "large": 1.7})

    chosen = precision.choose("float16", "cpu", 224)
    assert chosen.dtype is torch.bfloat16 and chosen.gain == pytest.approx(1.7)
    assert "AVX-512 BF16" in chosen.said and "measured 1.7× float32's speed here" in chosen.said
    assert precision.choose("float16", "cpu", 224).dtype is torch.bfloat16 and asked == ["large"]  # remembered in pace.json

    small = precision.choose("float16", "cpu", 28)  # 1.05×: within what the probe misreads, not worth it
    assert not small.mixed and small.gain == 1.0 and asked == ["large", "small"]
    assert "trained at 1.05× float32's speed when measured" in small.note and "trains in float32" in small.note


def test_the_suggested_settings_choose_mixed_precision_where_it_measured_faster_and_say_so(avx512_bf16, monkeypatch):
    assert not suggestions.mixed_precision_pays("local", "cpu", 224)  # nothing measured yet: float32, as the algorithm
    probe_answers(monkeypatch, {"small": 1.05, "large": 1.7})
    estimates.measure_pace(photos())  # what the Where step does in the background
    estimates.measure_pace(photos(num_layers="20", image_shape="3,28,28"))

    assert suggestions.mixed_precision_pays("local", "cpu", 224) and not suggestions.mixed_precision_pays("local", "cpu", 28)
    assert not suggestions.mixed_precision_pays("aws", "cuda", 224)  # SageMaker keeps the algorithm's float32
    fast = photos(precision_dtype="float16")
    said = " ".join(suggestions.reasons(fast, (500, 375)))
    assert "trained 1.7× faster than float32 when measured here" in said and "AVX-512 BF16" in said
    # the estimate follows the faster engine
    assert estimates.estimate_minutes(fast) == pytest.approx(estimates.estimate_minutes(photos()) / 1.7)
    small = photos(num_layers="20", image_shape="3,28,28")
    assert estimates.estimate_minutes(small.replace(precision_dtype="float16")) == estimates.estimate_minutes(small)


def test_a_cpu_where_bfloat16_measured_slower_keeps_float32_and_the_log_says_what_was_measured(avx512_bf16, monkeypatch):
    probe_answers(monkeypatch, {"small": 0.45, "large": 0.7})
    chosen = precision.choose("float16", "cpu", 224)
    assert not chosen.mixed and "bfloat16 trained at 0.70× float32's speed when measured" in chosen.note
    assert not suggestions.mixed_precision_pays("local", "cpu", 224)
    monkeypatch.setenv(mixed_precision.FORCED_VARIABLE, "1")  # asked for anyway
    assert precision.choose("float16", "cpu", 224).dtype is torch.bfloat16


def test_a_gain_measured_on_a_busy_computer_decides_this_run_only(avx512_bf16, monkeypatch):
    asked = probe_answers(monkeypatch, {"small": 1.05, "large": 1.9}, share=0.4)
    assert precision.choose("float16", "cpu", 224).mixed
    assert pace.known_gain("large", avx512_bf16) == pytest.approx(1.9) and not (avx512_bf16 / pace.CACHE).exists()
    assert pace.worth_measuring("large") is False and asked == ["large"]  # not measured again by this process


def test_a_cpu_without_bfloat16_is_never_probed_for_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(pace.ASSUMED_VARIABLE, raising=False)
    monkeypatch.setenv(cores.NO_BF16_VARIABLE, "1")
    monkeypatch.setattr(pace, "_failed", set())
    asked = probe_answers(monkeypatch, {"small": 0.0, "large": 0.0})
    pace.measure("large")
    assert not pace.worth_measuring("large") and pace.known_gain("large") is None and asked == ["large"]
    assert not precision.choose("float16", "cpu", 224).mixed and asked == ["large"]


@pytest.mark.skipif(not torch.cpu._is_avx512_bf16_supported(), reason="this CPU has no AVX-512 BF16 to time bfloat16 on")
def test_the_probe_times_both_precisions_on_a_cpu_with_bfloat16(monkeypatch):
    monkeypatch.delenv(cores.NO_BF16_VARIABLE, raising=False)
    done = subprocess.run([pace.sys.executable, "-m", "sagewiz.core.local.pace", "small"], capture_output=True, text=True,
                          timeout=pace.PROBE_TIMEOUT_S)
    speed, share, gain = (float(word) for word in done.stdout.split())
    assert done.returncode == 0 and speed > 0 and 0 < share <= 1.5 and gain > 0


def test_float16_asked_for_where_it_doesnt_pay_is_said_to_train_in_float32(avx512_bf16, monkeypatch):
    probe_answers(monkeypatch, {"small": 0.45, "large": 0.7})
    estimates.measure_pace(photos())
    said = " ".join(suggestions.reasons(photos(precision_dtype="float16"), (500, 375)))
    assert "trains it in float32 (bfloat16 measured 0.70× float32's speed here)" in said
    monkeypatch.setattr(cores, "cpu_bf16", lambda: "")
    said = " ".join(suggestions.reasons(photos(precision_dtype="float16"), (500, 375)))
    assert "trains it in float32 (it has no bfloat16 instructions)" in said
