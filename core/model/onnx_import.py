"""Gluon's ResNet v2 in an ONNX file (the ONNX model zoo's ``resnet*-v2-7.onnx``) as the
Image Classification algorithm's own network.

Both are the pre-activation ResNet of "Identity Mappings in Deep Residual Networks"; what differs:

- names: Gluon's ``resnetv22_stage1_batchnorm0_gamma`` … — so the graph is read by its *structure*
  (which layer feeds which), never by names, and mapped onto the algorithm's ``stage1_unit1_bn1``…;
- the input: the zoo's files take ``(x/255 − mean)/std`` with ImageNet's mean and std, the algorithm
  raw 0–255 pixels. Its first BatchNorm (``bn_data``) is per channel ``(x − M)/√(V + ε)``, so the
  normalisation folds into M and V exactly (DESIGN.md): ``M = 255·(mean + std·mm)`` and
  ``V = (255·std)²·(mv + ε_gluon)/γ² − ε``;
- BatchNorm's ε: Gluon's 1e-5, the symbol's 2e-5 — ``V = v + ε_gluon − ε`` keeps every layer exact;
- the shortcut of stage 1's first unit in ResNet-18/34: Gluon adds the unit's input itself (64 → 64
  channels), the symbol a 1×1 convolution ``sc`` of the activated input ``relu(bn1(x))``. The input
  there comes out of a ReLU and a max-pool, so it is ≥ 0; per channel, where bn1 keeps every x ≥ 0
  out of its ReLU's cut (a slope > 0 and an offset ≥ 0) a diagonal ``sc`` gives x back plus a
  constant, and the BatchNorms that read the sum take that constant off: exact. Where bn1 cuts, the
  rebuilt shortcut is an approximation, and :class:`ImportedNetwork` says in how many channels.

Anything else — a ResNet v1, another network, a truncated file — is refused with what it is.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from sagewiz.core.errors import ModelFileError

# Every BatchNorm of the algorithm's symbol (symbol.py writes "2e-05"; local/resnet.py BN_EPS).
ALGORITHM_BN_EPS = 2e-5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# What the zoo's ResNets were trained at (their README's preprocessing: a 224×224 centre crop).
IMAGENET_SHAPE = (3, 224, 224)
_PASS_THROUGH = {"Identity", "Dropout"}
_POOLS = {"GlobalAveragePool", "AveragePool", "ReduceMean"}
_HINT = ("Add one of the ONNX model zoo's ResNet v2 files (resnet18-v2-7.onnx … resnet152-v2-7.onnx; "
         "`sagewiz pretrained download 18` fetches one), an MXNet ResNet checkpoint, or a model.tar.gz.")


@dataclass(frozen=True)
class ImportedNetwork:
    """The algorithm's network read out of another file: its depth, the picture size it was trained
    at, how many classes its last layer had, and its ``.params`` arrays (``arg:``/``aux:`` names,
    without fc1). ``approximate`` is empty when the conversion is exact, else says where it isn't."""

    num_layers: int
    image_shape: tuple[int, int, int]
    classes: int
    params: dict[str, np.ndarray]
    approximate: str = ""


@dataclass
class _Unit:
    bns: list[Any]      # bn1, bn2 (, bn3)
    convs: list[Any]    # conv1, conv2 (, conv3)
    sc: Any | None      # the shortcut's convolution; None for Gluon's plain shortcut
    input_name: str     # the tensor the unit adds to its body when it has no sc


class _Graph:
    """The ONNX graph as "which node reads this tensor", with its weights as numpy arrays."""

    def __init__(self, model: Any, source: str):
        from onnx import numpy_helper

        self.source = source
        graph = model.graph
        self.weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value":
                        self.weights[node.output[0]] = numpy_helper.to_array(attr.t)
        self.nodes = [node for node in graph.node if node.op_type != "Constant"]
        self.readers: dict[str, list[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
        self.inputs = [i for i in graph.input if i.name not in self.weights]

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.source} {problem}.", title="Not a network sagewiz can use", hint=_HINT)

    def next_ops(self, tensor: str) -> list[Any]:
        found = []
        for node in self.readers.get(tensor, []):
            found.extend(self.next_ops(node.output[0]) if node.op_type in _PASS_THROUGH else [node])
        return found

    def single(self, tensor: str, op: str, where: str) -> Any:
        ops = self.next_ops(tensor)
        if len(ops) != 1 or ops[0].op_type != op:
            got = ", ".join(n.op_type for n in ops) or "nothing"
            raise self.fail(f"is not the algorithm's ResNet v2: {where} goes into {got}, where a {op} belongs")
        return ops[0]

    def weight(self, node: Any, index: int) -> np.ndarray:
        if index >= len(node.input) or node.input[index] not in self.weights:
            raise self.fail(f"lacks the weights of its {node.op_type} layer {node.name or node.output[0]!r} "
                            "(a damaged or truncated file)")
        return np.asarray(self.weights[node.input[index]], dtype=np.float64)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}


def describe(model: Any) -> str:
    """What an ONNX model is, in a few words: its producer and its most common layers."""
    ops = Counter(node.op_type for node in model.graph.node)
    common = ", ".join(f"{op} ×{count}" for op, count in ops.most_common(4)) or "no layers"
    maker = " ".join(p for p in (model.producer_name, model.producer_version) if p) or "an unknown tool"
    name = f" {model.graph.name!r}" if model.graph.name else ""
    return f"an ONNX model{name} made by {maker} with {sum(ops.values())} layers ({common})"


def load_onnx(data: bytes, source: str) -> Any:
    """The parsed ONNX model; ModelFileError for bytes that aren't one (or were cut short)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{source} is not a readable ONNX model ({error}); a download that was cut "
                             "short reads like this.", title="Damaged model file", hint=_HINT) from None
    if not model.graph.node:
        raise ModelFileError(f"{source} holds no network (an empty or truncated ONNX file).", hint=_HINT)
    return model


def read_onnx(data: bytes, *, source: str = "The ONNX file", depth_in_name: int | None = None) -> ImportedNetwork:
    """The algorithm's network, with its weights, from an ONNX export of Gluon's ``resnet*_v2``.

    ``depth_in_name`` (18 for ``resnet18-v2-7.onnx``) is checked against the layers found. Raises
    :class:`ModelFileError` naming what the file is when it is not such a network."""
    model = load_onnx(data, source)
    graph = _Graph(model, source)
    if len(graph.inputs) != 1:
        raise graph.fail(f"is {describe(model)}, with {len(graph.inputs)} inputs where an image classifier has one")
    data_name = graph.inputs[0].name
    first = graph.next_ops(data_name)
    if len(first) != 1 or first[0].op_type != "BatchNormalization":
        raise graph.fail(_what_instead(model, first))
    params: dict[str, np.ndarray] = {}
    bn_data = first[0]
    conv0 = graph.single(bn_data.output[0], "Conv", "the input's BatchNorm")
    if tuple(_attrs(conv0).get("kernel_shape", ())) != (7, 7):
        raise graph.fail("has a first convolution that is not 7×7: it is not a ResNet made for ImageNet's "
                         "224-pixel pictures")
    bn0 = graph.single(conv0.output[0], "BatchNormalization", "the first convolution")
    relu0 = graph.single(bn0.output[0], "Relu", "the first BatchNorm")
    pool0 = graph.single(relu0.output[0], "MaxPool", "the first ReLU")
    _check_conv(graph, conv0, 2)
    params.update(_bn_data(graph, bn_data))
    params["arg:conv0_weight"] = graph.weight(conv0, 1)
    params.update(_bn(graph, bn0, "bn0"))

    units, final_bn = _units(graph, pool0.output[0])
    stages = _stages(graph, units)
    bottle_neck = len(units[0].convs) == 3
    num_layers = _depth(graph, stages, bottle_neck)
    if depth_in_name is not None and depth_in_name != num_layers:
        raise graph.fail(f"is named for ResNet-{depth_in_name} but holds a ResNet-{num_layers}")
    approximate = ""
    for stage, members in enumerate(stages, 1):
        for number, unit in enumerate(members, 1):
            name = f"stage{stage}_unit{number}"
            for index, (bn, conv) in enumerate(zip(unit.bns, unit.convs), 1):
                params.update(_bn(graph, bn, f"{name}_bn{index}"))
                params[f"arg:{name}_conv{index}_weight"] = graph.weight(conv, 1)
            if number == 1 and unit.sc is not None:
                params[f"arg:{name}_sc_weight"] = graph.weight(unit.sc, 1)
    params.update(_bn(graph, final_bn, "bn1"))
    classes = _classes(graph, final_bn)
    if stages[0][0].sc is None:
        if pool0.output[0] != stages[0][0].input_name:
            raise graph.fail("has a plain shortcut where the algorithm's network has a convolution")
        approximate = _rebuild_first_shortcut(params, [len(s) for s in stages])
    shape = _input_shape(graph)
    return ImportedNetwork(num_layers, shape, classes,
                           {name: value.astype(np.float32) for name, value in params.items()}, approximate)


def _what_instead(model: Any, first: list[Any]) -> str:
    ops = Counter(node.op_type for node in model.graph.node)
    if first and first[0].op_type == "Conv" and ops["BatchNormalization"] and ops["Add"]:
        # v1 (post-activation): conv → BN → ReLU, and a ReLU after every addition
        return ("is a ResNet v1 (its input goes straight into a convolution, and a ReLU follows every "
                "addition), not the pre-activation ResNet v2 the Image Classification algorithm trains: "
                "use the v2 file of the same depth (resnetNN-v2-7.onnx)")
    into = ", ".join(node.op_type for node in first) or "nothing"
    return f"is {describe(model)}, not a ResNet v2 exported from Gluon (its input goes into {into})"


def _check_conv(graph: _Graph, conv: Any, stride: int) -> None:
    attrs = _attrs(conv)
    kernel = tuple(attrs.get("kernel_shape", ()))
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    wanted_pad = kernel[0] // 2 if kernel else 0
    problems = []
    if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", (1, 1))):
        problems.append("grouped or dilated")
    if tuple(attrs.get("strides", (1, 1))) != (stride, stride):
        problems.append(f"strides {tuple(attrs.get('strides', (1, 1)))}")
    if len(set(pads)) > 1 or (pads and pads[0] != wanted_pad):
        problems.append(f"padding {pads}")
    if len(conv.input) > 2 and np.any(graph.weight(conv, 2)):
        problems.append("a bias")
    if problems:
        raise graph.fail(f"has a convolution ({conv.name or conv.output[0]}) unlike the algorithm's: "
                         + ", ".join(problems))


def _bn_params(graph: _Graph, node: Any) -> tuple[np.ndarray, ...]:
    eps = float(_attrs(node).get("epsilon", 1e-5))
    return (*(graph.weight(node, i) for i in range(1, 5)), eps)  # type: ignore[return-value]


def _bn(graph: _Graph, node: Any, name: str) -> dict[str, np.ndarray]:
    gamma, beta, mean, var, eps = _bn_params(graph, node)
    return {f"arg:{name}_gamma": gamma, f"arg:{name}_beta": beta,
            f"aux:{name}_moving_mean": mean, f"aux:{name}_moving_var": var + eps - ALGORITHM_BN_EPS}


def _bn_data(graph: _Graph, node: Any) -> dict[str, np.ndarray]:
    """Gluon's ``BatchNorm(scale=False, center=False)`` on normalised pixels as ``bn_data`` on raw ones."""
    gamma, beta, mean, var, eps = _bn_params(graph, node)
    if gamma.shape != (3,):
        raise graph.fail(f"takes pictures with {gamma.shape[0] if gamma.ndim else '?'} channels, not RGB")
    if np.any(gamma <= 0):
        raise graph.fail("scales the input by a factor ≤ 0 in its first BatchNorm, which no input "
                         "normalisation does")
    img_mean, img_std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    raw_mean = 255.0 * (img_mean + img_std * mean)
    raw_var = (255.0 * img_std) ** 2 * (var + eps) / gamma ** 2 - ALGORITHM_BN_EPS
    # bn_data's gamma is fixed (MXNet's fix_gamma writes ones into it and ignores it)
    return {"arg:bn_data_gamma": np.ones(3), "arg:bn_data_beta": beta,
            "aux:bn_data_moving_mean": raw_mean, "aux:bn_data_moving_var": raw_var}


def _units(graph: _Graph, stream: str) -> tuple[list[_Unit], Any]:
    """The residual units, in order, from the stem's output to the final BatchNorm."""
    units = []
    while True:
        bn1 = next((n for n in graph.next_ops(stream) if n.op_type == "BatchNormalization"), None)
        if bn1 is None:
            raise graph.fail("is not the algorithm's ResNet v2: a residual unit does not start with a BatchNorm")
        relu1 = graph.single(bn1.output[0], "Relu", "a unit's first BatchNorm")
        after = graph.next_ops(relu1.output[0])
        if any(node.op_type in _POOLS for node in after):
            if not units:
                raise graph.fail("has no residual units")
            return units, bn1
        convs = [node for node in after if node.op_type == "Conv"]
        to_add = [c for c in convs if [n.op_type for n in graph.next_ops(c.output[0])] == ["Add"]]
        body = [c for c in convs if c not in to_add]
        if len(convs) != len(after) or len(body) != 1 or len(to_add) > 1:
            raise graph.fail("is not the algorithm's ResNet v2: a unit's activation feeds "
                             + ", ".join(node.op_type for node in after))
        unit = _Unit([bn1], [body[0]], to_add[0] if to_add else None, stream)
        tensor = body[0].output[0]
        while True:
            following = graph.next_ops(tensor)
            if len(following) == 1 and following[0].op_type == "Add":
                add = following[0]
                break
            bn = graph.single(tensor, "BatchNormalization", "a unit's convolution")
            relu = graph.single(bn.output[0], "Relu", "a unit's BatchNorm")
            conv = graph.single(relu.output[0], "Conv", "a unit's ReLU")
            unit.bns.append(bn)
            unit.convs.append(conv)
            tensor = conv.output[0]
        shortcut = unit.sc.output[0] if unit.sc is not None else stream
        if sorted(add.input) != sorted([tensor, shortcut]) or len(unit.convs) not in (2, 3):
            raise graph.fail("is not the algorithm's ResNet v2: a unit's sum is not its body plus its shortcut")
        units.append(unit)
        stream = add.output[0]


def _stride(unit: _Unit) -> int:
    conv = unit.convs[1] if len(unit.convs) == 3 else unit.convs[0]  # bottleneck: the 3×3 has it
    return int(tuple(_attrs(conv).get("strides", (1, 1)))[0])


def _stages(graph: _Graph, units: list[_Unit]) -> list[list[_Unit]]:
    """Units grouped into stages: each later stage begins with a unit of stride 2 and a shortcut conv."""
    stages: list[list[_Unit]] = []
    kind = len(units[0].convs)
    for unit in units:
        if len(unit.convs) != kind:
            raise graph.fail("mixes basic and bottleneck units, unlike any ResNet")
        stride = _stride(unit)
        if not stages or stride == 2:
            if stages and unit.sc is None:
                raise graph.fail("halves its pictures in a unit without a shortcut convolution")
            stages.append([])
        elif unit.sc is not None:
            raise graph.fail("has a shortcut convolution in the middle of a stage, unlike the algorithm's ResNet")
        # basic: 3×3 (stride), 3×3; bottleneck: 1×1, 3×3 (stride), 1×1
        kernels = (1, 3, 1) if kind == 3 else (3, 3)
        for index, (conv, kernel) in enumerate(zip(unit.convs, kernels)):
            found = tuple(_attrs(conv).get("kernel_shape", ()))
            if found != (kernel, kernel):
                raise graph.fail(f"has a {'×'.join(map(str, found))} convolution where the algorithm's "
                                 f"ResNet has a {kernel}×{kernel} one")
            _check_conv(graph, conv, stride if index == (1 if kind == 3 else 0) else 1)
        if unit.sc is not None:
            _check_conv(graph, unit.sc, stride)
        stages[-1].append(unit)
    return stages


def _depth(graph: _Graph, stages: list[list[_Unit]], bottle_neck: bool) -> int:
    from sagewiz.core.model.architecture import LARGE_IMAGE_LAYERS, architecture

    layout = tuple(len(stage) for stage in stages)
    for num_layers in LARGE_IMAGE_LAYERS:
        units, _, wide = architecture(num_layers, IMAGENET_SHAPE[1])
        if (units, wide) == (layout, bottle_neck):
            return num_layers
    kind = "bottleneck" if bottle_neck else "basic"
    raise graph.fail(f"has {len(layout)} stages of {'/'.join(map(str, layout))} {kind} units, which is none of "
                     "the depths the Image Classification algorithm trains")


def _classes(graph: _Graph, final_bn: Any) -> int:
    tensor = graph.single(final_bn.output[0], "Relu", "the last BatchNorm").output[0]
    while True:
        ops = graph.next_ops(tensor)
        if len(ops) != 1:
            raise graph.fail("does not end in one classifying layer")
        node = ops[0]
        if node.op_type in ("Gemm", "MatMul"):
            weight = graph.weight(node, 1)
            trans_b = _attrs(node).get("transB", 0) if node.op_type == "Gemm" else 0
            return int(weight.shape[0] if trans_b else weight.shape[1])
        if node.op_type not in _POOLS | {"Flatten", "Reshape", "Squeeze"}:
            raise graph.fail(f"ends in a {node.op_type} layer where a ResNet has its average pool and dense layer")
        tensor = node.output[0]


def _input_shape(graph: _Graph) -> tuple[int, int, int]:
    dims = [d.dim_value for d in graph.inputs[0].type.tensor_type.shape.dim]
    if len(dims) == 4 and dims[1] == 3 and min(dims[2:]) > 32:
        return 3, int(dims[2]), int(dims[3])
    return IMAGENET_SHAPE


def _rebuild_first_shortcut(params: dict[str, np.ndarray], units_per_stage: list[int]) -> str:
    """Gluon's plain shortcut of stage1_unit1 as the symbol's ``sc`` convolution (see the module's
    docstring); returns "" when exact in every channel, else says in how many it is."""
    gamma, beta = params["arg:stage1_unit1_bn1_gamma"], params["arg:stage1_unit1_bn1_beta"]
    mean, var = params["aux:stage1_unit1_bn1_moving_mean"], params["aux:stage1_unit1_bn1_moving_var"]
    slope = gamma / np.sqrt(var + ALGORITHM_BN_EPS)
    offset = beta - slope * mean              # act1 = relu(slope·x + offset), x ≥ 0
    rising = slope > 0
    weight = np.zeros((len(gamma), len(gamma), 1, 1))
    shift = np.where(rising, offset / np.where(rising, slope, 1.0), -mean)  # sc(act1) ≈ x + shift
    weight[np.arange(len(gamma)), np.arange(len(gamma)), 0, 0] = np.where(rising, 1.0 / np.where(rising, slope, 1.0), 0.0)
    params["arg:stage1_unit1_sc_weight"] = weight
    # The sum carries the shift to every BatchNorm that reads it: the rest of stage 1's units, and
    # the first unit of stage 2 (whose own shortcut convolution ends it).
    readers = [f"stage1_unit{n}_bn1" for n in range(2, units_per_stage[0] + 1)]
    readers.append("stage2_unit1_bn1" if len(units_per_stage) > 1 else "bn1")
    for name in readers:
        params[f"aux:{name}_moving_mean"] = params[f"aux:{name}_moving_mean"] + shift
    exact = int(np.sum(rising & (offset >= 0)))
    if exact == len(gamma):
        return ""
    return (f"its first unit's plain shortcut is rebuilt as a convolution, exactly in {exact} of its "
            f"{len(gamma)} channels")


def depth_in_file_name(name: str) -> int | None:
    """18 for ``resnet18-v2-7.onnx`` or ``resnet-18-symbol.json``; None when the name has no depth."""
    match = re.search(r"resnet-?(\d+)", name.lower())
    return int(match[1]) if match else None
