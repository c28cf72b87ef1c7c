"""The ``-symbol.json`` of the Image Classification algorithm's ResNet, written and read back.

Writing gives, node for node, what MXNet 1.9.1's ``example/image-classification/symbols/
resnet.py`` ``get_symbol(num_classes, num_layers, image_shape).tojson()`` gives (in a fresh
process, so that the automatic names start at ``_plus0``, ``pooling0``, ``flatten0``): MXNet's
``load_checkpoint`` builds the network from it. Reading tells which network an archive holds —
num_layers, num_classes, and the image size from ``model-shapes.json`` — without MXNet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sagewiz.core.errors import ModelFileError
from sagewiz.core.model.architecture import (
    SMALL_IMAGE_MAX_HEIGHT,
    SMALL_STEM_MAX_HEIGHT,
    architecture,
    supported_num_layers,
)

MXNET_VERSION = 10901  # the symbol's "mxnet_version" attribute: 1.9.1
_BN = {"eps": "2e-05", "momentum": "0.9"}
_WORKSPACE = "256"
_HINT = ("Download the model again, or choose the model.tar.gz of a training job that completed "
         "(sagewiz resources lists them).")
# nnvm's node_row_ptr counts each node's outputs: BatchNorm has 3 (out, mean, var), and in
# MXNet's MKLDNN builds (pip's, SageMaker's) a max Pooling has 2 (out, workspace).
_OUTPUTS = {"BatchNorm": 3}


def _pair(value: int) -> str:
    return f"({value}, {value})"  # str() of the Python tuple get_symbol passes


class _Graph:
    """Nodes in nnvm's JSON order: get_symbol creates each node after its inputs, and the graph's
    depth-first order agrees with that creation order, so appending is enough."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.row_ptr = [0]
        self.counters: dict[str, int] = {}

    def _add(self, node: dict[str, Any], outputs: int) -> int:
        self.nodes.append(node)
        self.row_ptr.append(self.row_ptr[-1] + outputs)
        return len(self.nodes) - 1

    def auto_name(self, prefix: str) -> str:
        number = self.counters.get(prefix, 0)
        self.counters[prefix] = number + 1
        return f"{prefix}{number}"

    def variable(self, name: str, attrs: dict[str, str] | None = None) -> int:
        node: dict[str, Any] = {"op": "null", "name": name}
        if attrs:
            node["attrs"] = dict(attrs)
        node["inputs"] = []
        return self._add(node, 1)

    def op(self, op: str, name: str, attrs: dict[str, str] | None, inputs: list[tuple[int, int]],
           params: tuple[str, ...] = (), aux: tuple[str, ...] = ()) -> int:
        """An operator and, just before it, the variables of its own parameters (which carry
        the operator's attributes, as MXNet 1.x writes them); aux states are mutable inputs."""
        links = [[node, 0, version] for node, version in inputs]
        for suffix in params:
            links.append([self.variable(f"{name}_{suffix}", attrs), 0, 0])
        for suffix, init in aux:
            links.append([self.variable(f"{name}_{suffix}", {"__init__": f'["{init}", {{}}]', **(attrs or {})}), 0, 1])
        node: dict[str, Any] = {"op": op, "name": name}
        if attrs:
            node["attrs"] = dict(attrs)
        node["inputs"] = links
        max_pool = op == "Pooling" and (attrs or {}).get("pool_type") == "max"
        return self._add(node, 2 if max_pool else _OUTPUTS.get(op, 1))

    def batch_norm(self, name: str, data: int, *, fix_gamma: bool = False) -> int:
        attrs = {"eps": _BN["eps"], "fix_gamma": str(fix_gamma), "momentum": _BN["momentum"]}
        return self.op("BatchNorm", name, attrs, [(data, 0)], ("gamma", "beta"),
                       (("moving_mean", "zero"), ("moving_var", "one")))

    def conv(self, name: str, data: int, filters: int, kernel: int, stride: int, pad: int | None) -> int:
        attrs = {"kernel": _pair(kernel), "no_bias": "True", "num_filter": str(filters)}
        if pad is not None:  # the shortcut conv is made without a pad argument
            attrs["pad"] = _pair(pad)
        attrs.update({"stride": _pair(stride), "workspace": _WORKSPACE})
        return self.op("Convolution", name, attrs, [(data, 0)], ("weight",))

    def relu(self, name: str, data: int) -> int:
        return self.op("Activation", name, {"act_type": "relu"}, [(data, 0)])


def _residual_unit(graph: _Graph, data: int, filters: int, stride: int, dim_match: bool, name: str,
                   bottle_neck: bool) -> int:
    act1 = graph.relu(f"{name}_relu1", graph.batch_norm(f"{name}_bn1", data))
    if bottle_neck:
        quarter = int(filters * 0.25)
        body = graph.conv(f"{name}_conv1", act1, quarter, 1, 1, 0)
        body = graph.relu(f"{name}_relu2", graph.batch_norm(f"{name}_bn2", body))
        body = graph.conv(f"{name}_conv2", body, quarter, 3, stride, 1)
        body = graph.relu(f"{name}_relu3", graph.batch_norm(f"{name}_bn3", body))
        body = graph.conv(f"{name}_conv3", body, filters, 1, 1, 0)
    else:
        body = graph.conv(f"{name}_conv1", act1, filters, 3, stride, 1)
        body = graph.relu(f"{name}_relu2", graph.batch_norm(f"{name}_bn2", body))
        body = graph.conv(f"{name}_conv2", body, filters, 3, 1, 1)
    shortcut = data if dim_match else graph.conv(f"{name}_sc", act1, filters, 1, stride, None)
    return graph.op("elemwise_add", graph.auto_name("_plus"), None, [(body, 0), (shortcut, 0)])


def resnet_symbol(num_layers: int, num_classes: int, image_shape: tuple[int, int, int]) -> dict[str, Any]:
    """The parsed JSON of ``get_symbol(num_classes, num_layers, "C,H,W")`` (dtype float32).

    Raises ValueError, with the allowed values, for a depth the algorithm does not offer at that
    image height, or a non-positive ``num_classes``.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    height = int(image_shape[1])
    units, filter_list, bottle_neck = architecture(int(num_layers), height)
    graph = _Graph()
    data = graph.op("_copy", "id", None, [(graph.variable("data"), 0)])
    body = graph.batch_norm("bn_data", data, fix_gamma=True)
    if height <= SMALL_STEM_MAX_HEIGHT:
        body = graph.conv("conv0", body, filter_list[0], 3, 1, 1)
    else:
        body = graph.conv("conv0", body, filter_list[0], 7, 2, 3)
        body = graph.relu("relu0", graph.batch_norm("bn0", body))
        body = graph.op("Pooling", graph.auto_name("pooling"),
                        {"kernel": _pair(3), "pad": _pair(1), "pool_type": "max", "stride": _pair(2)}, [(body, 0)])
    for stage, count in enumerate(units):
        for unit in range(count):
            stride = 2 if unit == 0 and stage > 0 else 1
            body = _residual_unit(graph, body, filter_list[stage + 1], stride, unit > 0,
                                  f"stage{stage + 1}_unit{unit + 1}", bottle_neck)
    body = graph.relu("relu1", graph.batch_norm("bn1", body))
    body = graph.op("Pooling", "pool1", {"global_pool": "True", "kernel": _pair(7), "pool_type": "avg"}, [(body, 0)])
    body = graph.op("Flatten", graph.auto_name("flatten"), None, [(body, 0)])
    body = graph.op("FullyConnected", "fc1", {"num_hidden": str(int(num_classes))}, [(body, 0)], ("weight", "bias"))
    label = graph.variable("softmax_label")
    head = graph.op("SoftmaxOutput", "softmax", None, [(body, 0), (label, 0)])
    return {
        "nodes": graph.nodes,
        "arg_nodes": [index for index, node in enumerate(graph.nodes) if node["op"] == "null"],
        "node_row_ptr": graph.row_ptr,
        "heads": [[head, 0, 0]],
        "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
    }


def symbol_json(num_layers: int, num_classes: int, image_shape: tuple[int, int, int]) -> str:
    """:func:`resnet_symbol` as the text of an ``image-classification-symbol.json``."""
    return json.dumps(resnet_symbol(num_layers, num_classes, image_shape), indent=2)


@dataclass(frozen=True)
class SymbolInfo:
    """Which of the algorithm's networks a symbol file describes.

    ``image_shape`` (channels, height, width) comes from ``model-shapes.json``; without it the
    symbol only bounds the height (``min_height``..``max_height``, ``None`` for no upper bound).
    """

    num_layers: int
    num_classes: int
    image_shape: tuple[int, int, int] | None
    min_height: int
    max_height: int | None


_UNIT_CONV = re.compile(r"stage(\d+)_unit(\d+)_conv1\Z")


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    # MXNet 1.x writes "attrs"; symbols saved by MXNet before 1.0 used "attr" or "param".
    for key in ("attrs", "attr", "param"):
        if isinstance(node.get(key), dict):
            return node[key]
    return {}


def read_symbol(text: str | bytes, *, shapes: str | bytes | None = None,
                source: str = "The symbol file") -> SymbolInfo:
    """Tell num_layers, num_classes and (from ``model-shapes.json`` text, if given) the image shape
    of an ``image-classification-symbol.json``.

    It reads the layout (stages, units per stage, basic or bottleneck units, the stem) rather than
    requiring the exact JSON, so a float16 symbol (Cast nodes) or one from another MXNet version
    reads too. Raises :class:`ModelFileError` when the text is not such a symbol, describes a
    network the algorithm does not train, or disagrees with the shapes file.
    """
    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{source} does not describe a network sagewiz can use: {problem}.", hint=_HINT)

    try:
        graph = json.loads(text)
    except (ValueError, RecursionError):
        raise fail("it is not valid JSON") from None
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(node, dict) for node in nodes):
        raise fail("it has no list of nodes, so it is not an MXNet symbol")
    ops = {str(node.get("name")): (node.get("op"), _attrs(node)) for node in nodes}

    fc1 = ops.get("fc1")
    if fc1 is None or fc1[0] != "FullyConnected":
        raise fail("it has no fc1 layer, so it is not the Image Classification algorithm's ResNet")
    try:
        num_classes = int(fc1[1].get("num_hidden", ""))
    except (ValueError, TypeError):
        raise fail("its fc1 layer does not say how many classes it has") from None
    if num_classes < 1:
        raise fail(f"its fc1 layer has {num_classes} classes")

    units: dict[int, int] = {}
    for name, (op, _) in ops.items():
        match = _UNIT_CONV.match(name)
        if match and op == "Convolution":
            stage, unit = int(match[1]), int(match[2])
            units[stage] = max(units.get(stage, 0), unit)
    stages = tuple(units.get(stage, 0) for stage in range(1, len(units) + 1))
    if len(stages) not in (3, 4) or 0 in stages:
        raise fail(f"it has {len(units)} stages of residual units where the algorithm's ResNet has 3 or 4")
    bottle_neck = any(name.endswith("_conv3") for name in ops)
    conv0 = ops.get("conv0")
    if conv0 is None:
        raise fail("it has no conv0 layer")
    small_stem = str(conv0[1].get("kernel", "")).replace(" ", "") == "(3,3)"

    if len(stages) == 3:
        num_layers, heights = 6 * stages[0] + 2, (1, SMALL_IMAGE_MAX_HEIGHT)
    else:
        num_layers = _large_depth(stages, bottle_neck)
        heights = (SMALL_IMAGE_MAX_HEIGHT + 1, SMALL_STEM_MAX_HEIGHT) if small_stem else (SMALL_STEM_MAX_HEIGHT + 1, None)
    layout = f"{len(stages)} stages of {'/'.join(map(str, stages))} {'bottleneck' if bottle_neck else 'basic'} units"
    try:
        expected = architecture(num_layers, heights[0])
    except ValueError:
        expected = None
    if expected is None or (expected[0], expected[2]) != (stages, bottle_neck) \
            or small_stem != (heights[0] <= SMALL_STEM_MAX_HEIGHT):
        raise fail(f"its layout ({layout}, a {'3×3' if small_stem else '7×7'} first convolution) is not "
                   "one of the depths the Image Classification algorithm trains")

    image_shape = None if shapes is None else _read_shapes(shapes)
    if image_shape is not None:
        height = image_shape[1]
        if height < heights[0] or (heights[1] is not None and height > heights[1]):
            raise fail(f"its ResNet-{num_layers} layout is made for images "
                       f"{_height_range(*heights)} pixels tall, but model-shapes.json says {height}")
    return SymbolInfo(num_layers, num_classes, image_shape, heights[0], heights[1])


def _large_depth(stages: tuple[int, ...], bottle_neck: bool) -> int:
    """num_layers of a 4-stage net from its units per stage (-1 when the table has none)."""
    for num_layers in supported_num_layers(SMALL_STEM_MAX_HEIGHT):
        units, _, wide = architecture(num_layers, SMALL_STEM_MAX_HEIGHT)
        if (units, wide) == (stages, bottle_neck):
            return num_layers
    return -1


def _height_range(low: int, high: int | None) -> str:
    return f"at least {low}" if high is None else f"{low}–{high}" if low > 1 else f"at most {high}"


def _read_shapes(text: str | bytes) -> tuple[int, int, int]:
    """(channels, height, width) from ``model-shapes.json``: ``[{"shape": [N, C, H, W], "name": "data"}]``."""
    try:
        entries = json.loads(text)
        shape = next(entry["shape"] for entry in entries if entry.get("name") == "data")
        _, channels, height, width = (int(value) for value in shape)
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration, RecursionError):
        raise ModelFileError(
            "The model-shapes.json does not say the input's shape "
            '(it should read like [{"shape": [32, 3, 224, 224], "name": "data"}]).', hint=_HINT) from None
    if min(channels, height, width) < 1:
        raise ModelFileError("The model-shapes.json gives the impossible input shape "
                             f"{channels}×{height}×{width}.", hint=_HINT)
    return channels, height, width


def model_shapes_json(image_shape: tuple[int, int, int], batch_size: int) -> str:
    """The ``model-shapes.json`` SageMaker writes beside the symbol: the input's N×C×H×W."""
    return json.dumps([{"shape": [int(batch_size), *map(int, image_shape)], "name": "data"}])
