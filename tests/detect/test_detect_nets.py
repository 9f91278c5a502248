"""samplegen.detect.nets / onnx_signature: models are checked, and a wrong one is one clear error."""
from __future__ import annotations

import pickle
import shutil

import pytest

from samplegen.detect.config import load_detect_config
from samplegen.detect.nets import HAS_CLASSIC_ENGINE, NetSpec, load_net, load_nets, resolve_layout
from samplegen.detect.onnx_signature import OnnxFormatError, OnnxSignature, TensorInfo, parse_onnx_signature, \
    read_onnx_signature
from samplegen.errors import ConfigError

from tests.detect.conftest import spec


def test_signatures_of_both_exports(models):
    nhwc = read_onnx_signature(models / "nhwc-keras" / "pnet.onnx")
    assert [(t.name, t.dims) for t in nhwc.inputs] == [("input_1", ("N", "M1", "M2", 3))]
    assert [t.name for t in nhwc.outputs] == ["conv2d_4", "softmax"]
    nchw = read_onnx_signature(models / "nchw" / "rnet.onnx")
    assert [(t.name, t.dims) for t in nchw.inputs] == [("input", ("n", 3, 24, 24))]
    assert [(t.name, t.dims) for t in nchw.outputs] == [("regression", ("n", 4)), ("prob", ("n", 2))]


def test_bytes_that_are_not_onnx_are_refused():
    for blob in (b"", b"\xff\xd8\xff\xe0 JFIF", b"ir_version: 7\ngraph { }\n"):
        with pytest.raises(OnnxFormatError):
            parse_onnx_signature(blob)


@pytest.mark.parametrize("layout, expected", [("nhwc_swapped", "nhwc_swapped"), ("nchw", "nchw")])
def test_layout_is_read_from_the_input_shape(models, ipazc, layout, expected):
    nets = load_nets(spec(models, layout), ipazc)
    assert nets.pnet.layout == expected and nets.rnet.layout == expected


def test_a_worker_gets_a_picklable_spec_and_cached_nets(models, ipazc):
    net_spec = spec(models, "nhwc_swapped")
    assert pickle.loads(pickle.dumps(net_spec)) == net_spec
    assert load_nets(net_spec, ipazc) is load_nets(NetSpec(net_spec.pnet, net_spec.rnet), ipazc)
    assert load_nets(spec(models, "nhwc_swapped", rnet=False), ipazc).rnet is None


def test_a_file_that_is_not_onnx_names_the_file(tmp_path, shared_data, ipazc):
    photo = tmp_path / "pnet.onnx"
    shutil.copy(shared_data / "photos" / "grace_hopper.jpg", photo)
    with pytest.raises(ConfigError, match=rf"{photo}: not a usable PNET model: not an ONNX file") as err:
        load_net(photo, "pnet", ipazc)
    assert "expected an .onnx export of the PNET" in str(err.value)


def test_a_missing_file_names_the_file(tmp_path, ipazc):
    with pytest.raises(ConfigError, match="cannot read RNET model"):
        load_net(tmp_path / "nope.onnx", "rnet", ipazc)


def test_an_onet_given_as_rnet_is_refused(models, ipazc):
    for folder in ("nchw", "nhwc-keras"):
        path = models / folder / "onet.onnx"
        with pytest.raises(ConfigError, match=r"expected a 24x24 input \(rnet.size\), got 48x48.*ONet"):
            load_net(path, "rnet", ipazc)


def test_an_rnet_given_as_pnet_is_refused(models, ipazc):
    with pytest.raises(ConfigError, match=r"rnet.onnx: not a usable PNET model: .*fixed 24x24 input"):
        load_net(models / "nhwc-keras" / "rnet.onnx", "pnet", ipazc)


def test_a_pnet_given_as_rnet_is_refused(models, ipazc):
    # Keras export: its output names are not RNet's.
    with pytest.raises(ConfigError, match=r"missing 'dense_2', 'softmax_1'; the model has conv2d_4, softmax"):
        load_net(models / "nhwc-keras" / "pnet.onnx", "rnet", ipazc)
    # PyTorch export: same output names as RNet, refused by the shape of its outputs.
    with pytest.raises(ConfigError, match=r"output 'regression' \(regression\) has shape \[256, 4, 7, 7\]"):
        load_net(models / "nchw" / "pnet.onnx", "rnet", ipazc)


def test_missing_output_names_are_listed(models):
    cfg = load_detect_config("ipazc", {"input": {"nhwc_swapped": {"pnet_outputs": {"prob": "prob"}}}})
    with pytest.raises(ConfigError, match=r"input.nhwc_swapped.pnet_outputs\), missing 'prob'; the model has "
                                          r"conv2d_4, softmax"):
        load_net(models / "nhwc-keras" / "pnet.onnx", "pnet", cfg)


def test_a_forced_layout_that_contradicts_the_model_is_refused(models):
    cfg = load_detect_config("ipazc", {"input": {"layout": "nchw"}})
    with pytest.raises(ConfigError, match=r"input.layout is nchw but the input 'input_1' \[N, M1, M2, 3\] is "
                                          r"nhwc_swapped"):
        load_net(models / "nhwc-keras" / "pnet.onnx", "pnet", cfg)


@pytest.mark.skipif(not HAS_CLASSIC_ENGINE,
                    reason="OpenCV 5.1 and later have one DNN engine, which runs every real export")
def test_an_engine_that_cannot_run_the_model_is_a_config_error(models):
    # OpenCV 5.0's classic engine cannot run the PyTorch RNet's Flatten at batch > 1.
    cfg = load_detect_config("ipazc", {"input": {"nchw": {"rnet_engine": "classic"}}})
    with pytest.raises(ConfigError, match=r"cannot run it on a \[256, 3, 24, 24\] input.*input.nchw.rnet_engine"):
        load_net(models / "nchw" / "rnet.onnx", "rnet", cfg)


def _signature(*inputs):
    return OnnxSignature(tuple(TensorInfo(name, elem, dims) for name, elem, dims in inputs),
                         (TensorInfo("out", 1, ("N", 2)),))


def test_inputs_that_do_not_fit_are_refused(ipazc):
    auto = ipazc.input
    cases = [
        (_signature(("a", 1, ("N", 3, "H", "W")), ("b", 1, ("N", 3, "H", "W"))), "expected one image input"),
        (_signature(("x", 10, ("N", 3, "H", "W"))), "expected a float32 input of rank 4"),
        (_signature(("x", 1, ("N", 3, "H"))), "expected a float32 input of rank 4"),
        (_signature(("x", 1, ("N", 3, "H", 3))), "cannot tell NCHW from NHWC"),
        (_signature(("x", 1, ("N", 1, "H", "W"))), "cannot tell NCHW from NHWC"),
    ]
    for signature, message in cases:
        with pytest.raises(ConfigError, match=message):
            resolve_layout("m.onnx", "pnet", signature, auto, 24)
    # An ambiguous shape is accepted when the preset says the layout.
    forced = load_detect_config("ipazc", {"input": {"layout": "nchw"}}).input
    assert resolve_layout("m.onnx", "pnet", _signature(("x", 1, ("N", 3, "H", 3))), forced, 24) == "nchw"
