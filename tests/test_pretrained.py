"""Pretrained networks on this computer, without MXNet: weights added from the three kinds of file,
listed, found for a network, removed; wrong files refused with what they are; downloads against an
HTTP server on 127.0.0.1 (resumed, wrong checksum, 404, no connection, cut off)."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from sagewiz.core.errors import InputError, ModelFileError, NotFoundError
from sagewiz.core.local.resnet import BN_EPS, build_resnet
from sagewiz.core.model import download
from sagewiz.core.model.archive import ModelInfo, write_archive
from sagewiz.core.model.download import DownloadError
from sagewiz.core.model.onnx_import import ALGORITHM_BN_EPS, IMAGENET_MEAN, IMAGENET_STD
from sagewiz.core.model.params import save_params
from sagewiz.core.model.pretrained import (
    add_pretrained, download_pretrained, find_pretrained, installed, pretrained_params, remove_pretrained,
)
from sagewiz.core.model.symbol import symbol_json
from sagewiz.core.model.weights import checkpoint_params, load_checkpoint_params
from sagewiz.tui.cli import main

SIZE = 64  # big enough for the ImageNet layout (7×7 stem), small enough to run quickly


def gluon_resnet18_onnx(seed: int = 0, classes: int = 10, *, exact_first_unit: bool = True) -> onnx.ModelProto:
    """An ONNX graph laid out as MXNet exports Gluon's ``resnet18_v2`` (the model zoo's files), with
    random weights and BatchNorm statistics: Gluon's ε of 1e-5, a plain first shortcut, normalised input."""
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    counter = iter(range(10_000))

    def tensor(array: np.ndarray) -> str:
        name = f"resnetv22_param{next(counter)}"
        weights.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def op(kind: str, inputs: list[str], **attrs) -> str:
        out = f"resnetv22_{kind.lower()}{next(counter)}_fwd"
        nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def bn(x: str, ch: int, *, plain=False, uncut=False) -> str:
        gamma = np.ones(ch) if plain else rng.uniform(0.75, 1.25, ch)
        beta = np.zeros(ch) if plain else np.abs(rng.normal(0, 0.1, ch)) if uncut else rng.normal(0, 0.1, ch)
        mean = -np.abs(rng.normal(0, 0.1, ch)) if uncut else rng.normal(0, 0.1, ch)
        return op("BatchNormalization", [x, *map(tensor, (gamma, beta, mean, rng.uniform(0.5, 1.5, ch)))], epsilon=1e-5)

    def conv(x: str, cin: int, cout: int, k: int, stride: int) -> str:
        weight = rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k))
        return op("Conv", [x, tensor(weight)], kernel_shape=[k, k], strides=[stride] * 2, pads=[k // 2] * 4)

    x = bn("data", 3, plain=True)
    x = op("MaxPool", [op("Relu", [bn(conv(x, 3, 64, 7, 2), 64)])], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    channels = 64
    for stage, width in enumerate((64, 128, 256, 512)):
        for unit in range(2):
            stride = 2 if unit == 0 and stage > 0 else 1
            act = op("Relu", [bn(x, channels, uncut=exact_first_unit and stage == unit == 0)])
            shortcut = conv(act, channels, width, 1, stride) if width != channels else x  # Gluon's rule
            body = conv(op("Relu", [bn(conv(act, channels, width, 3, stride), width)]), width, width, 3, 1)
            x = op("Add", [body, shortcut])
            channels = width
    x = op("Flatten", [op("GlobalAveragePool", [op("Relu", [bn(x, 512)])])])
    fc = rng.normal(0, 0.5 / np.sqrt(512), (classes, 512))
    x = op("Gemm", [x, tensor(fc), tensor(rng.normal(0, 0.1, classes))], transB=1)
    graph = helper.make_graph(nodes, "resnetv22", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, classes])], weights)
    # opset 15: onnx 1.23's reference evaluator gets BatchNormalization wrong for opsets before 14
    return helper.make_model(graph, producer_name="test", opset_imports=[helper.make_opsetid("", 15)])


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zoo") / "resnet18-v2-7.onnx"
    onnx.save(gluon_resnet18_onnx(), path)
    return path


def our_logits(params: dict, fc: dict, pixels: np.ndarray, num_layers=18, shape=(3, SIZE, SIZE)) -> np.ndarray:
    model = build_resnet(num_layers, next(iter(fc.values())).shape[0], shape, channels_last=False)
    load_checkpoint_params(model, {**params, **fc})
    with torch.no_grad():
        return model.eval()(torch.from_numpy(pixels.astype(np.float32))).numpy()


def test_the_model_zoos_resnet18_v2_answers_on_raw_pixels_what_it_answers_on_normalised_ones(zoo_file, tmp_path):
    from onnx.reference import ReferenceEvaluator

    network = add_pretrained(zoo_file, tmp_path)
    assert (network.num_layers, network.classes, network.image_shape) == (18, 10, (3, SIZE, SIZE))
    assert network.source == "ONNX model zoo resnet18-v2-7.onnx"
    assert network.sha256 == hashlib.sha256(zoo_file.read_bytes()).hexdigest()
    params = pretrained_params(network)
    assert "arg:stage1_unit1_sc_weight" in params and not any(name.startswith("arg:fc1") for name in params)
    pixels = np.random.default_rng(1).integers(0, 256, (1, 3, SIZE, SIZE)).astype(np.float32)
    normalised = (pixels / 255 - np.reshape(IMAGENET_MEAN, (1, 3, 1, 1))) / np.reshape(IMAGENET_STD, (1, 3, 1, 1))
    model = onnx.load(zoo_file)
    theirs = ReferenceEvaluator(model).run(None, {"data": normalised.astype(np.float32)})[0]
    fc_names = [n.input[1:] for n in model.graph.node if n.op_type == "Gemm"][0]
    stored = {t.name: np.array(numpy_helper.to_array(t)) for t in model.graph.initializer}
    fc = {"arg:fc1_weight": stored[fc_names[0]], "arg:fc1_bias": stored[fc_names[1]]}
    assert np.abs(our_logits(params, fc, pixels) - theirs).max() <= 1e-4


def test_the_conversion_uses_the_algorithms_batchnorm_epsilon():
    assert ALGORITHM_BN_EPS == BN_EPS


def test_a_resnet18_whose_first_unit_cuts_its_input_says_in_how_many_channels_it_is_exact(tmp_path):
    onnx.save(gluon_resnet18_onnx(exact_first_unit=False), tmp_path / "resnet18-v2-7.onnx")
    network = add_pretrained(tmp_path / "resnet18-v2-7.onnx", tmp_path)
    assert "first unit's plain shortcut is rebuilt as a convolution, exactly in" in network.source
    assert installed(tmp_path)[0].source == network.source  # `list` says it too


def test_a_random_onnx_model_is_refused_with_what_it_is(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])], "tiny-mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(np.ones((4, 2), np.float32), "w")])
    onnx.save(helper.make_model(graph, producer_name="a notebook"), tmp_path / "model.onnx")
    with pytest.raises(ModelFileError) as refused:
        add_pretrained(tmp_path / "model.onnx", tmp_path)
    assert "'tiny-mlp' made by a notebook" in refused.value.message and "MatMul" in refused.value.message
    assert refused.value.hint and installed(tmp_path) == []


def test_a_resnet_v1_is_refused_as_v1(tmp_path):
    rng = np.random.default_rng(0)
    w = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name) for name, shape in
         (("w0", (4, 3, 3, 3)), ("g", (4,)), ("b", (4,)), ("m", (4,)), ("v", (4,)))]
    nodes = [helper.make_node("Conv", ["data", "w0"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"]),
             helper.make_node("Add", ["n", "c"], ["s"]), helper.make_node("Relu", ["s"], ["out"])]
    graph = helper.make_graph(nodes, "resnetv10", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 8, 8])], w)
    onnx.save(helper.make_model(graph), tmp_path / "resnet18-v1-7.onnx")
    with pytest.raises(ModelFileError, match="is a ResNet v1"):
        add_pretrained(tmp_path / "resnet18-v1-7.onnx", tmp_path)


def test_a_truncated_onnx_download_is_refused_and_installs_nothing(zoo_file, tmp_path):
    (tmp_path / "resnet18-v2-7.onnx").write_bytes(zoo_file.read_bytes()[: zoo_file.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="resnet18-v2-7.onnx"):
        add_pretrained(tmp_path / "resnet18-v2-7.onnx", tmp_path)
    assert installed(tmp_path) == []


def test_a_file_named_for_another_depth_is_refused(zoo_file, tmp_path):
    (tmp_path / "resnet34-v2-7.onnx").write_bytes(zoo_file.read_bytes())
    with pytest.raises(ModelFileError, match="named for ResNet-34 but holds a ResNet-18"):
        add_pretrained(tmp_path / "resnet34-v2-7.onnx", tmp_path)


def trained_archive(path: Path, num_layers: int, shape: tuple[int, int, int], job: str = "sagewiz-ab12cd34-train"):
    model = build_resnet(num_layers, 3, shape, channels_last=False)
    params = checkpoint_params(model)
    write_archive(path, params, ModelInfo(num_layers, 3, shape, ("a", "b", "c"), {"mini_batch_size": "8"}, 2, job))
    return params


def test_a_model_trained_here_is_added_listed_found_for_its_network_and_removed(tmp_path):
    params = trained_archive(tmp_path / "model.tar.gz", 20, (3, 28, 28))
    network = add_pretrained(tmp_path / "model.tar.gz", tmp_path / "home")
    assert (network.num_layers, network.image_shape, network.classes) == (20, (3, 28, 28), 3)
    assert network.source == "model.tar.gz of sagewiz-ab12cd34-train"
    stored = pretrained_params(network)
    assert list(stored) == [name for name in params if not name.startswith("arg:fc1")]
    assert all(np.array_equal(stored[name], params[name]) for name in stored)
    assert installed(tmp_path / "home") == [network]
    assert find_pretrained(20, (3, 24, 24), tmp_path / "home") == network  # any small-image size
    assert find_pretrained(20, (3, 28, 28), tmp_path / "other home") is None
    assert find_pretrained(32, (3, 28, 28), tmp_path / "home") is None
    assert remove_pretrained(20, tmp_path / "home") == network
    assert installed(tmp_path / "home") == [] and not network.path.exists()
    with pytest.raises(NotFoundError, match="No pretrained ResNet-20"):
        remove_pretrained(20, tmp_path / "home")


def test_weights_fit_only_networks_of_the_same_depth_and_stem(tmp_path):
    trained_archive(tmp_path / "model.tar.gz", 18, (3, 32, 32))  # the 4-stage net with the small 3×3 stem
    add_pretrained(tmp_path / "model.tar.gz", tmp_path)
    assert find_pretrained(18, (3, 30, 30), tmp_path).image_shape == (3, 32, 32)
    assert find_pretrained(18, (3, 224, 224), tmp_path) is None
    assert find_pretrained(34, (3, 32, 32), tmp_path) is None


def test_an_mxnet_checkpoint_is_added_by_either_file_or_its_folder(tmp_path):
    model = build_resnet(18, 1000, (3, 224, 224), channels_last=False)
    (tmp_path / "resnet-18-symbol.json").write_text(symbol_json(18, 1000, (3, 224, 224)))
    save_params(tmp_path / "resnet-18-0000.params", checkpoint_params(model))
    for named in ("resnet-18-symbol.json", "resnet-18-0000.params", "."):
        network = add_pretrained(tmp_path / named, tmp_path / "home")
        assert (network.num_layers, network.classes, network.source) == (18, 1000, "MXNet checkpoint resnet-18")
        assert network.image_shape == (3, 224, 224)
    assert len(installed(tmp_path / "home")) == 1  # one entry per depth: each add replaced the last
    (tmp_path / "resnet-18-symbol.json").unlink()
    with pytest.raises(ModelFileError, match="resnet-18-symbol.json is not beside"):
        add_pretrained(tmp_path / "resnet-18-0000.params", tmp_path / "home")


def test_a_checkpoint_named_for_another_depth_or_truncated_is_refused(tmp_path):
    model = build_resnet(18, 10, (3, 224, 224), channels_last=False)
    (tmp_path / "resnet-34-symbol.json").write_text(symbol_json(18, 10, (3, 224, 224)))
    save_params(tmp_path / "resnet-34-0000.params", checkpoint_params(model))
    with pytest.raises(ModelFileError, match="named for ResNet-34 but describes a ResNet-18"):
        add_pretrained(tmp_path / "resnet-34-symbol.json", tmp_path / "home")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "resnet-18-symbol.json").write_text(symbol_json(18, 10, (3, 224, 224)))
    data = (tmp_path / "resnet-34-0000.params").read_bytes()
    (tmp_path / "other" / "resnet-18-0000.params").write_bytes(data[: len(data) - 1000])
    with pytest.raises(ModelFileError, match="truncated"):
        add_pretrained(tmp_path / "other", tmp_path / "home")
    assert installed(tmp_path / "home") == []


def test_stored_weights_that_were_changed_are_refused(tmp_path):
    trained_archive(tmp_path / "model.tar.gz", 20, (3, 28, 28))
    network = add_pretrained(tmp_path / "model.tar.gz", tmp_path)
    data = bytearray(network.path.read_bytes())
    data[-5] ^= 0xFF
    network.path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="changed since it was added"):
        pretrained_params(network)


# ---- downloads -----------------------------------------------------------------------------

class ZooServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (name → bytes) with Range support; ``cut_at`` stops a body after that many bytes."""

    def __init__(self, files: dict[str, bytes], cut_at: int | None = None):
        self.files, self.cut_at, self.ranges = files, cut_at, []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        data = self.server.files.get(self.path.lstrip("/").split("/")[-1])
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        asked = self.headers.get("Range")
        self.server.ranges.append(asked)
        if asked:
            start = int(asked.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.server.cut_at is not None:
            body = body[: self.server.cut_at]
        self.wfile.write(body)


@pytest.fixture
def serve():
    servers = []

    def start(files, **kwargs) -> str:
        server = ZooServer(files, **kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def as_zoo(monkeypatch, data: bytes, sha256: str | None = None) -> None:
    """The model zoo's table entry for ResNet-18 as this test's file."""
    monkeypatch.setitem(download.ZOO_FILES, 18, ("resnet18-v2-7.onnx", len(data), sha256 or hashlib.sha256(data).hexdigest()))


def test_an_interrupted_download_resumes_where_it_stopped_and_installs(zoo_file, tmp_path, serve, monkeypatch):
    data = zoo_file.read_bytes()
    as_zoo(monkeypatch, data)
    server = serve({"resnet18-v2-7.onnx": data})
    base = f"http://127.0.0.1:{server.server_port}/models"
    downloads = tmp_path / "pretrained" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "resnet18-v2-7.onnx.partial").write_bytes(data[:1_000_000])
    seen = []
    network = download_pretrained(18, tmp_path, lambda done, total: seen.append((done, total)), base_url=base)
    assert server.ranges == ["bytes=1000000-"]
    assert seen[0] == (1_000_000, len(data)) and seen[-1] == (len(data), len(data))
    assert network.sha256 == hashlib.sha256(data).hexdigest() and network.num_layers == 18
    assert json.loads(network.path.with_suffix(".json").read_text())["url"] == f"{base}/resnet18-v2-7.onnx"
    assert list(downloads.iterdir()) == []  # converted: neither the file nor a .partial is kept


def test_a_download_cut_off_keeps_only_a_partial_file_to_resume(tmp_path, serve, monkeypatch):
    data = bytes(range(256)) * 4000
    as_zoo(monkeypatch, data)
    server = serve({"resnet18-v2-7.onnx": data}, cut_at=300_000)
    with pytest.raises(DownloadError, match="at 300,000 of 1,024,000 bytes") as failed:
        download_pretrained(18, tmp_path, base_url=f"http://127.0.0.1:{server.server_port}")
    assert "continues where it stopped" in failed.value.hint
    downloads = tmp_path / "pretrained" / "downloads"
    assert [p.name for p in downloads.iterdir()] == ["resnet18-v2-7.onnx.partial"]
    assert installed(tmp_path) == []


def test_a_download_with_the_wrong_checksum_is_deleted(tmp_path, serve, monkeypatch):
    data = b"not the model zoo's file" * 1000
    as_zoo(monkeypatch, data, sha256="0" * 64)
    server = serve({"resnet18-v2-7.onnx": data})
    with pytest.raises(DownloadError, match="not the SHA-256") as failed:
        download_pretrained(18, tmp_path, base_url=f"http://127.0.0.1:{server.server_port}")
    assert failed.value.title == "Wrong file downloaded"
    assert list((tmp_path / "pretrained" / "downloads").iterdir()) == [] and installed(tmp_path) == []


def test_a_file_the_server_does_not_have_says_so_and_where_to_get_it(tmp_path, serve):
    server = serve({})
    with pytest.raises(DownloadError, match="HTTP 404") as failed:
        download_pretrained(34, tmp_path, base_url=f"http://127.0.0.1:{server.server_port}")
    assert "sagewiz pretrained add resnet34-v2-7.onnx" in failed.value.hint


def test_without_a_connection_it_says_so_where_to_get_the_file_by_hand_and_how_to_add_it(tmp_path, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv(download.BASE_URL_VARIABLE, f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError, match="no internet connection") as failed:
        download_pretrained(50, tmp_path)
    assert failed.value.title == "No connection"
    assert f"http://127.0.0.1:{port}/resnet50-v2-7.onnx" in failed.value.hint
    assert "sagewiz pretrained add resnet50-v2-7.onnx" in failed.value.hint
    assert not list((tmp_path / "pretrained" / "downloads").glob("*.onnx"))


def test_the_real_download_points_at_the_model_zoo_with_its_published_checksums():
    zoo = download.zoo_file(152)
    assert zoo.urls[0].endswith("/validated/vision/classification/resnet/model/resnet152-v2-7.onnx")
    assert zoo.size == 241_503_848 and len(zoo.sha256) == 64
    with pytest.raises(InputError, match="no ResNet v2 of 200 layers"):
        download.zoo_file(200)


# ---- the command ---------------------------------------------------------------------------

def test_the_pretrained_command_adds_lists_and_removes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    trained_archive(tmp_path / "model.tar.gz", 20, (3, 28, 28))
    assert main(["pretrained", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["pretrained", "add", str(tmp_path / "model.tar.gz")]) == 0
    assert "Installed ResNet-20" in capsys.readouterr().err
    assert main(["pretrained", "list", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["num_layers"] == 20 and entry["file_name"] == "model.tar.gz" and entry["url"] is None
    assert main(["pretrained", "list"]) == 0
    assert "ResNet-20" in capsys.readouterr().err
    assert main(["pretrained", "remove", "20"]) == 0
    assert main(["pretrained", "remove", "20"]) == 1
    assert "No pretrained ResNet-20" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["pretrained", "add", str(tmp_path / "notes.txt")]) == 1
    assert "none of the files sagewiz takes" in capsys.readouterr().err
