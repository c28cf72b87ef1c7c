"""The local backend trains the very network SageMaker's Image Classification algorithm trains:
MXNet's pre-activation ResNet (apache/mxnet example/image-classification/symbols/resnet.py),
with the same depths, shapes and parameter names, so a SageMaker model runs here unchanged."""

from __future__ import annotations

import re

import pytest
import torch

from sagewiz.core.local.resnet import (
    LARGE_IMAGE_LAYERS,
    SMALL_IMAGE_LAYERS,
    build_resnet,
    load_mxnet_params,
    mxnet_param_names,
)
from sagewiz.core.local.transforms import batch_to_float

# get_symbol's table, written out again here so the tests don't read it from the code under test.
LARGE_UNITS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
               152: [3, 8, 36, 3], 200: [3, 24, 36, 3]}


def symbol_layout(num_layers: int, height: int):
    """(units, filter_list, bottle_neck) the way get_symbol picks them."""
    if height <= 28:
        return [(num_layers - 2) // 6] * 3, [16, 16, 32, 64], False
    if num_layers >= 50:
        return LARGE_UNITS[num_layers], [64, 256, 512, 1024, 2048], True
    return LARGE_UNITS[num_layers], [64, 64, 128, 256, 512], False


def symbol_arg_shapes(num_layers: int, num_classes: int, image_shape) -> dict[str, tuple[int, ...]]:
    """Every arg:/aux: name and shape MXNet's resnet() creates, from the symbol's rules alone."""
    channels, height, _ = image_shape
    units, filters, bottle_neck = symbol_layout(num_layers, height)
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(name, ch):
        shapes.update({f"arg:{name}_gamma": (ch,), f"arg:{name}_beta": (ch,),
                       f"aux:{name}_moving_mean": (ch,), f"aux:{name}_moving_var": (ch,)})

    bn("bn_data", channels)
    if height <= 32:
        shapes["arg:conv0_weight"] = (filters[0], channels, 3, 3)
    else:
        shapes["arg:conv0_weight"] = (filters[0], channels, 7, 7)
        bn("bn0", filters[0])
    in_ch = filters[0]
    for i, count in enumerate(units):
        out = filters[i + 1]
        for j in range(count):
            name = f"stage{i + 1}_unit{j + 1}"
            bn(f"{name}_bn1", in_ch)
            if bottle_neck:
                mid = out // 4
                shapes[f"arg:{name}_conv1_weight"] = (mid, in_ch, 1, 1)
                bn(f"{name}_bn2", mid)
                shapes[f"arg:{name}_conv2_weight"] = (mid, mid, 3, 3)
                bn(f"{name}_bn3", mid)
                shapes[f"arg:{name}_conv3_weight"] = (out, mid, 1, 1)
            else:
                shapes[f"arg:{name}_conv1_weight"] = (out, in_ch, 3, 3)
                bn(f"{name}_bn2", out)
                shapes[f"arg:{name}_conv2_weight"] = (out, out, 3, 3)
            if j == 0:  # dim_match=False: the projection shortcut
                shapes[f"arg:{name}_sc_weight"] = (out, in_ch, 1, 1)
            in_ch = out
    bn("bn1", in_ch)
    shapes["arg:fc1_weight"] = (num_classes, in_ch)
    shapes["arg:fc1_bias"] = (num_classes,)
    return shapes


def arg_count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(torch.Size(s).numel() for name, s in shapes.items() if name.startswith("arg:"))


def model_arg_count(model) -> int:
    return sum(p.numel() for p in model.parameters())  # bn_data_gamma included: MXNet saves it too


@pytest.mark.parametrize("num_layers", SMALL_IMAGE_LAYERS)
def test_every_small_image_depth_gives_one_logit_per_class(num_layers):
    model = build_resnet(num_layers, 5, (3, 16, 16)).eval()
    with torch.no_grad():
        logits = model(batch_to_float(torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)))
    assert logits.shape == (2, 5)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("num_layers", [18, 34, 50])
def test_224_class_depths_give_one_logit_per_class(num_layers):
    model = build_resnet(num_layers, 3, (3, 64, 64)).eval()
    with torch.no_grad():
        logits = model(batch_to_float(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)))
    assert logits.shape == (2, 3)


@pytest.mark.parametrize("num_layers", LARGE_IMAGE_LAYERS)
def test_every_224_depth_has_exactly_the_symbols_parameters(num_layers):
    model = build_resnet(num_layers, 7, (3, 224, 224))
    expected = symbol_arg_shapes(num_layers, 7, (3, 224, 224))
    names = mxnet_param_names(model)
    state = model.state_dict()
    assert {names[key]: tuple(state[key].shape) for key in state} == expected
    assert model_arg_count(model) == arg_count(expected)


def test_resnet18_and_50_parameter_counts_match_imagenet_figures():
    # Cross-check against torchvision's published v1 counts (resnet18: 11,689,512; resnet50:
    # 25,557,032, 1000 classes), adjusted for what MXNet's v2 symbol does differently:
    # + bn_data (2×3) + the final bn1 (2×C) + stage1_unit1_sc (basic nets only; v1 already
    #   has that projection in the bottleneck nets),
    # − the BatchNorm after every v1 projection, and the pre-activation bn1 of a stage's first
    #   unit sees the narrower input where v1's last BN sees the output: 2·(in − out) per stage.
    r18 = 11_689_512 + 6 + 2 * 512 + 64 * 64 - 2 * (128 + 256 + 512) - (128 + 256 + 512)
    r50 = 25_557_032 + 6 + 2 * 2048 - 2 * (256 + 512 + 1024 + 2048) \
        + 2 * ((64 - 256) + (256 - 512) + (512 - 1024) + (1024 - 2048))
    assert arg_count(symbol_arg_shapes(18, 1000, (3, 224, 224))) == r18 == 11_691_950
    assert arg_count(symbol_arg_shapes(50, 1000, (3, 224, 224))) == r50 == 25_549_486
    assert model_arg_count(build_resnet(18, 1000, (3, 224, 224))) == r18
    assert model_arg_count(build_resnet(50, 1000, (3, 224, 224))) == r50


def test_cifar_sized_images_get_the_three_stage_network_with_a_3x3_stem():
    model = build_resnet(20, 10, (3, 28, 28))
    expected = symbol_arg_shapes(20, 10, (3, 28, 28))
    assert set(mxnet_param_names(model).values()) == set(expected)
    assert "arg:bn0_gamma" not in expected and "arg:stage3_unit3_conv2_weight" in expected
    assert model_arg_count(model) == arg_count(expected)


def test_29_to_32_pixel_images_get_the_imagenet_depths_with_the_small_stem_as_in_mxnet():
    # get_symbol switches to 4 stages above 28 px, resnet() to the 7×7 stem above 32 px.
    model = build_resnet(18, 10, (3, 32, 32)).eval()
    names = set(mxnet_param_names(model).values())
    assert "arg:bn0_gamma" not in names and "arg:stage4_unit2_conv2_weight" in names
    assert model.state_dict()["conv0.weight"].shape == (64, 3, 3, 3)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32) * 255).shape == (1, 10)
    with pytest.raises(ValueError, match="18, 34, 50, 101, 152, 200"):
        build_resnet(20, 10, (3, 32, 32))


@pytest.mark.parametrize(
    ("num_layers", "image_shape", "allowed"),
    [
        (19, (3, 224, 224), "18, 34, 50, 101, 152, 200"),
        (269, (3, 224, 224), "18, 34, 50, 101, 152, 200"),
        (18, (3, 28, 28), "20, 32, 44, 56, 110"),
        (164, (3, 28, 28), "20, 32, 44, 56, 110"),
    ],
)
def test_a_depth_the_algorithm_does_not_offer_is_refused_with_the_ones_it_does(num_layers, image_shape, allowed):
    with pytest.raises(ValueError, match=allowed):
        build_resnet(num_layers, 2, image_shape)


def test_a_small_image_depth_on_big_images_says_which_images_it_is_for():
    with pytest.raises(ValueError, match="20 layers is for images at most 28 pixels"):
        build_resnet(20, 2, (3, 224, 224))


@pytest.mark.parametrize("bad", [dict(num_classes=0), dict(image_shape=(3, 224)), dict(image_shape=(3, 0, 224))])
def test_malformed_classes_or_shapes_are_refused(bad):
    args = dict(num_layers=18, num_classes=2, image_shape=(3, 224, 224)) | bad
    with pytest.raises(ValueError):
        build_resnet(**args)


def test_parameter_names_are_mxnets():
    names = mxnet_param_names(build_resnet(18, 2, (3, 224, 224)))
    assert set(names) == set(build_resnet(18, 2, (3, 224, 224)).state_dict())
    for wanted in ["arg:bn_data_gamma", "aux:bn_data_moving_mean", "arg:conv0_weight", "arg:bn0_beta",
                   "arg:stage1_unit1_bn1_gamma", "arg:stage1_unit1_conv1_weight", "arg:stage1_unit1_sc_weight",
                   "aux:stage4_unit2_bn2_moving_var", "arg:bn1_gamma", "arg:fc1_weight", "arg:fc1_bias"]:
        assert wanted in names.values()
    assert "arg:stage2_unit2_sc_weight" not in names.values()
    assert all(re.fullmatch(r"arg:[a-z0-9_]+_(weight|bias|gamma|beta)|aux:[a-z0-9_]+_moving_(mean|var)", n)
               for n in names.values())
    assert names["stage2_unit1.sc.weight"] == "arg:stage2_unit1_sc_weight"


def test_bn_data_gamma_is_fixed_at_one_like_mxnets_fix_gamma():
    model = build_resnet(20, 2, (3, 16, 16)).eval()
    x = torch.rand(2, 3, 16, 16) * 255
    with torch.no_grad():
        before = model(x)
        model.bn_data.gamma.fill_(5.0)  # a stored value is ignored, as MXNet ignores it
        assert torch.equal(model(x), before)
    assert not model.bn_data.gamma.requires_grad


def exported(model) -> dict[str, torch.Tensor]:
    """The model's tensors under their MXNet names, as a .params reader would hand them over."""
    names = mxnet_param_names(model)
    return {names[key]: value.detach().clone() for key, value in model.state_dict().items()}


def trained_a_little(model) -> None:
    """Move the BatchNorm statistics away from their initial values."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 40, 40) * 255)


def test_a_model_loaded_from_mxnet_names_predicts_exactly_like_the_original():
    torch.manual_seed(1)
    original = build_resnet(18, 4, (3, 40, 40))
    trained_a_little(original)
    torch.manual_seed(2)
    copy = build_resnet(18, 4, (3, 40, 40))
    load_mxnet_params(copy, {k: v.double() for k, v in exported(original).items()})  # f64 is cast
    x = batch_to_float(torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8))
    original.eval(), copy.eval()
    with torch.no_grad():
        assert torch.equal(original(x), copy(x))


def test_names_without_the_arg_aux_prefix_load_too():
    original, copy = build_resnet(20, 3, (3, 16, 16)), build_resnet(20, 3, (3, 16, 16))
    load_mxnet_params(copy, {k.split(":", 1)[1]: v for k, v in exported(original).items()})
    assert all(torch.equal(a, b) for a, b in zip(original.state_dict().values(), copy.state_dict().values()))


def test_parameters_of_another_network_are_refused_naming_what_does_not_fit_and_nothing_is_loaded():
    model = build_resnet(20, 2, (3, 16, 16))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = exported(build_resnet(20, 3, (3, 16, 16)))  # trained for 3 classes
    del params["aux:bn1_moving_var"]
    params["arg:stage9_unit1_conv1_weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as refused:
        load_mxnet_params(model, params)
    message = str(refused.value)
    assert "missing: bn1_moving_var" in message
    assert "unexpected: stage9_unit1_conv1_weight" in message
    assert "fc1_weight (3, 64) (model has (2, 64))" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_small_network_learns_sixteen_random_images_by_heart():
    torch.manual_seed(0)
    images = batch_to_float(torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8))
    labels = torch.arange(16) % 4
    model = build_resnet(20, 4, (3, 16, 16))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy == 1.0
