"""What sagewiz suggests for a beginner's pictures, and why: photographs get transfer learning
wherever pretrained weights are at hand; small pictures keep the small network."""

from __future__ import annotations

from sagewiz.core.hyperparams import warnings
from sagewiz.core.suggestions import reasons, suggest

CATS_AND_DOGS = dict(num_classes=2, num_training_samples=360, smallest_class=170, image_size=(500, 375))


def test_photos_on_sagemaker_start_from_imagenet_weights():
    hp = suggest(**CATS_AND_DOGS, device="cuda", pretrained=True)
    assert hp.use_pretrained_model and (hp.num_layers, hp.image_shape, hp.resize) == (18, "3,224,224", 256)
    assert hp.epochs <= 10 and hp.learning_rate <= 0.01  # fine-tuning: few epochs, a small learning rate
    assert warnings(hp, device="cuda") == []
    said = " ".join(reasons(hp, (500, 375), device="cuda", pretrained=True, local=False))
    assert "transfer learning, use_pretrained_model=1" in said and "500×375" in said


def test_a_big_photo_dataset_on_a_gpu_gets_a_deeper_pretrained_network():
    hp = suggest(10, 20_000, 1_500, (640, 480), device="cuda", pretrained=True)
    assert hp.use_pretrained_model and hp.num_layers == 50


def test_photos_on_this_computer_with_weights_installed_get_transfer_learning_too():
    hp = suggest(**CATS_AND_DOGS, device="cpu", pretrained=True)
    assert hp.use_pretrained_model and (hp.num_layers, hp.image_shape) == (18, "3,224,224")
    assert hp.epochs <= 5  # a CPU: fewer epochs still


def test_photos_on_this_computer_without_weights_say_what_transfer_learning_needs():
    hp = suggest(**CATS_AND_DOGS, device="cpu", pretrained=False)
    assert not hp.use_pretrained_model and (hp.num_layers, hp.image_shape) == (20, "3,28,28")
    said = " ".join(reasons(hp, (500, 375), device="cpu", pretrained=False))
    assert "no pretrained network is installed" in said and "expect a modest accuracy" in said
    assert "sagewiz pretrained download 18" in said


def test_the_digits_sample_keeps_its_small_image_settings_even_with_weights_installed():
    for pretrained in (False, True):
        hp = suggest(10, 1438, 142, (28, 28), device="cpu", pretrained=pretrained)
        assert not hp.use_pretrained_model and (hp.num_layers, hp.image_shape) == (20, "3,28,28")
    said = " ".join(reasons(hp, (28, 28), device="cpu", pretrained=True))
    assert "Your pictures are small" in said and "pretrained" not in said


def test_mixed_precision_is_suggested_where_it_trains_faster_and_said(monkeypatch):
    from sagewiz.core import suggestions
    from sagewiz.core.estimates import estimate_minutes
    from sagewiz.core.local import cores

    monkeypatch.setattr(cores, "cpu_bf16", lambda: "AMX")
    assert suggestions.mixed_precision_pays("local", "cpu") and suggestions.mixed_precision_pays("local", "cuda")
    assert not suggestions.mixed_precision_pays("aws", "cuda")  # SageMaker keeps the algorithm's float32
    fast = suggestions.suggest(2, 800, 400, (500, 375), pretrained=True, mixed_precision=True)
    assert fast.precision_dtype == "float16"
    assert any("AMX" in reason and "bfloat16" in reason for reason in suggestions.reasons(fast, (500, 375), pretrained=True))
    plain = fast.replace(precision_dtype="float32")
    assert estimate_minutes(fast) < estimate_minutes(plain) / 2  # the estimate follows the faster engine

    monkeypatch.setattr(cores, "cpu_bf16", lambda: "AVX-512 BF16")  # bfloat16 without AMX trains slower: not suggested
    assert not suggestions.mixed_precision_pays("local", "cpu")
    assert estimate_minutes(fast) == estimate_minutes(plain)
