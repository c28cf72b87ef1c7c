"""A SageMaker model names its network in ``image-classification-symbol.json``: sagewiz writes,
for every depth and image size the algorithm offers, the JSON MXNet 1.9.1's get_symbol writes
(tests/fixtures/mxnet_model/symbol, made by make_fixtures.py with MXNet itself), and reads any
such file back to tell which network it is."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from sagewiz.core.errors import ModelFileError
from sagewiz.core.model.symbol import SymbolInfo, model_shapes_json, read_symbol, resnet_symbol, symbol_json

SYMBOLS = sorted((Path(__file__).parent / "fixtures" / "mxnet_model" / "symbol").glob("*.json.gz"))
OFFERED = [(n, (3, 28, 28)) for n in (20, 32, 44, 56, 110)] + [
    (n, shape) for n in (18, 34, 50, 101, 152, 200) for shape in ((3, 32, 32), (3, 224, 224))]


def golden(path: Path) -> tuple[int, tuple[int, int, int], dict]:
    num_layers, *shape = map(int, re.fullmatch(r"resnet-(\d+)-(\d+)x(\d+)x(\d+)\.json\.gz", path.name).groups())
    return num_layers, tuple(shape), json.loads(gzip.decompress(path.read_bytes()))


def test_there_is_a_golden_symbol_for_every_offered_depth_and_image_size():
    assert sorted(golden(path)[:2] for path in SYMBOLS) == sorted(OFFERED)


@pytest.mark.parametrize("path", SYMBOLS, ids=[path.name for path in SYMBOLS])
def test_the_symbol_sagewiz_writes_is_the_one_mxnet_writes(path):
    num_layers, shape, theirs = golden(path)
    assert resnet_symbol(num_layers, 5, shape) == theirs
    assert json.loads(symbol_json(num_layers, 5, shape)) == theirs


def test_the_symbol_depends_on_the_height_only_through_the_three_families():
    assert resnet_symbol(18, 5, (3, 29, 29)) == resnet_symbol(18, 5, (3, 32, 32))
    assert resnet_symbol(18, 5, (1, 33, 200)) == resnet_symbol(18, 5, (3, 224, 224))
    assert resnet_symbol(20, 5, (1, 8, 99)) == resnet_symbol(20, 5, (3, 28, 28))
    assert resnet_symbol(18, 5, (3, 32, 32)) != resnet_symbol(18, 5, (3, 33, 33))


def test_a_depth_the_algorithm_does_not_offer_at_that_height_is_refused():
    with pytest.raises(ValueError, match="20 layers is for images at most 28 pixels"):
        resnet_symbol(20, 5, (3, 32, 32))
    with pytest.raises(ValueError, match="num_classes"):
        resnet_symbol(18, 0, (3, 224, 224))


@pytest.mark.parametrize("path", SYMBOLS, ids=[path.name for path in SYMBOLS])
def test_reading_an_mxnet_symbol_tells_its_depth_classes_and_heights(path):
    num_layers, shape, theirs = golden(path)
    info = read_symbol(json.dumps(theirs))
    assert (info.num_layers, info.num_classes, info.image_shape) == (num_layers, 5, None)
    assert info.min_height <= shape[1] and (info.max_height is None or shape[1] <= info.max_height)


@pytest.mark.parametrize("num_layers, shape", OFFERED)
def test_what_sagewiz_writes_reads_back_with_the_shape_from_model_shapes(num_layers, shape):
    shapes = model_shapes_json(shape, batch_size=32)
    assert json.loads(shapes) == [{"shape": [32, *shape], "name": "data"}]
    info = read_symbol(symbol_json(num_layers, 7, shape), shapes=shapes)
    assert info.num_layers == num_layers and info.num_classes == 7 and info.image_shape == shape


def test_the_three_height_families_are_told_apart():
    def heights(num_layers, shape):
        info = read_symbol(symbol_json(num_layers, 2, shape))
        return info.min_height, info.max_height
    assert heights(20, (3, 28, 28)) == (1, 28)
    assert heights(18, (3, 32, 32)) == (29, 32)
    assert heights(18, (3, 224, 224)) == (33, None)


def test_a_float16_symbol_reads_too():
    graph = resnet_symbol(50, 3, (3, 224, 224))
    graph["nodes"][1] = {"op": "Cast", "name": "cast0", "attrs": {"dtype": "float16"}, "inputs": [[0, 0, 0]]}
    assert read_symbol(json.dumps(graph)).num_layers == 50


def edited(change) -> str:
    graph = resnet_symbol(18, 3, (3, 224, 224))
    change(graph)
    return json.dumps(graph)


def drop_stage4(graph):
    graph["nodes"] = [node for node in graph["nodes"] if not node["name"].startswith("stage4")]


def rename(old, new):
    def change(graph):
        for node in graph["nodes"]:
            node["name"] = node["name"].replace(old, new)
    return change


def set_fc1(value):
    def change(graph):
        next(node for node in graph["nodes"] if node["name"] == "fc1")["attrs"]["num_hidden"] = value
    return change


BAD_SYMBOLS = {
    "not JSON": ("{nodes: [", "not valid JSON"),
    "JSON but not a graph": ("[1, 2, 3]", "no list of nodes"),
    "deeply nested JSON": ("[" * 100000 + "]" * 100000, "not"),
    "no fc1": (edited(rename("fc1", "fc9")), "no fc1 layer"),
    "fc1 without a class count": (edited(set_fc1("many")), "does not say how many classes"),
    "no classes": (edited(set_fc1("0")), "0 classes"),
    "five stages": (edited(rename("stage4", "stage5")), "stages of residual units"),
    "a depth the algorithm does not train": (edited(rename("stage4_unit2", "stage4_unit9")),
                                             "2/2/2/9 basic units, a 7×7 first convolution"),
    "no conv0": (edited(rename("conv0", "convX")), "no conv0 layer"),
}


@pytest.mark.parametrize("case", BAD_SYMBOLS, ids=list(BAD_SYMBOLS))
def test_a_symbol_that_is_not_the_algorithms_resnet_is_refused(case):
    text, says = BAD_SYMBOLS[case]
    with pytest.raises(ModelFileError, match="image-classification-symbol.json does not describe a network sagewiz can use") as caught:
        read_symbol(text, source="image-classification-symbol.json")
    assert says in caught.value.message and caught.value.hint


def test_mxnets_269_layer_net_is_refused_as_not_offered():
    graph = resnet_symbol(200, 3, (3, 224, 224))
    # 3/30/48/8 units: rename units to fake MXNet's get_symbol(num_layers=269) layout cheaply
    graph["nodes"] += [{"op": "Convolution", "name": f"stage{s}_unit{u}_conv1", "inputs": []}
                       for s, u in ((2, 30), (3, 48), (4, 8))]
    with pytest.raises(ModelFileError, match="3/30/48/8 bottleneck units"):
        read_symbol(json.dumps(graph))


@pytest.mark.parametrize("shapes, says", [
    ('[{"shape": [8, 3, 224, 224], "name": "data"}]', "made for images 29–32 pixels tall, but model-shapes.json says 224"),
    ('{"data": [8, 3, 32, 32]}', "does not say the input's shape"),
    ('[{"shape": [8, 3, 32], "name": "data"}]', "does not say the input's shape"),
    ('[{"shape": [8, 0, 32, 32], "name": "data"}]', "impossible input shape 0×32×32"),
])
def test_a_model_shapes_file_that_disagrees_or_is_malformed_is_refused(shapes, says):
    with pytest.raises(ModelFileError) as caught:
        read_symbol(symbol_json(18, 3, (3, 32, 32)), shapes=shapes)
    assert says in caught.value.message


def test_symbol_info_is_plain_data():
    assert read_symbol(symbol_json(20, 2, (1, 28, 28))) == SymbolInfo(20, 2, None, 1, 28)
