"""A model signature as V2 metadata, and V2 requests as the feature matrix."""

import json

import numpy as np
import pytest

from serving.signature import (
    RequestTensor,
    TensorSpec,
    feature_matrix,
    input_specs,
    output_specs,
)

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SIGNATURE = {
    "inputs": json.dumps([{"type": "double", "name": c, "required": True} for c in COLUMNS]),
    "outputs": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]),
}
INPUTS = input_specs(SIGNATURE)


def test_column_signature_becomes_one_tensor_per_column() -> None:
    assert tuple(TensorSpec(c, "FP64", (-1,)) for c in COLUMNS) == INPUTS
    assert output_specs(SIGNATURE) == (TensorSpec("output-0", "INT64", (-1,)),)
    assert INPUTS[0].as_metadata() == {"name": "sepal_length", "datatype": "FP64", "shape": [-1]}


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ({"outputs": SIGNATURE["outputs"]}, "has no inputs"),
        ({"inputs": "[]", "outputs": SIGNATURE["outputs"]}, "a non-empty list"),
        ({"inputs": json.dumps([{"type": "datetime", "name": "t"}])}, "type 'datetime'"),
    ],
)
def test_bad_signatures(signature: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        input_specs(signature)


def tensor(name: str, datatype: str, data: list, shape: tuple[int, ...]) -> RequestTensor:
    return RequestTensor(name, datatype, shape, np.array(data).reshape(shape))


def test_matrix_form() -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    got = feature_matrix([tensor("input-0", "FP64", rows, (2, 4))], INPUTS)
    assert got.dtype == np.float64
    assert got.tolist() == rows


@pytest.mark.parametrize("shape", [(2,), (2, 1)])
def test_column_form_in_signature_order(shape: tuple[int, ...]) -> None:
    tensors = [tensor(c, "FP32", [i, i + 10], shape) for i, c in enumerate(COLUMNS)]
    got = feature_matrix(list(reversed(tensors)), INPUTS)
    assert got.tolist() == [[0, 1, 2, 3], [10, 11, 12, 13]]


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ([], "no inputs"),
        ([tensor("input-0", "BYTES", ["a"] * 4, (1, 4))], "datatype BYTES"),
        ([tensor("input-0", "FP64", [1, 2, 3], (1, 3))], r"shape \[1, 3\]; allowed: \[N, 4\]"),
        ([tensor("sepal_length", "FP64", [1], (1,))], r"one \[N\] tensor per column"),
        (
            [
                tensor(c, "FP64", [1, 2] if i else [1], (2,) if i else (1,))
                for i, c in enumerate(COLUMNS)
            ],
            "different lengths",
        ),
        (
            [tensor(c, "FP64", [1, 2, 3, 4], (2, 2)) for c in COLUMNS],
            r"shape \[2, 2\]; allowed: \[N\] or \[N, 1\]",
        ),
    ],
)
def test_malformed_requests(tensors: list[RequestTensor], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        feature_matrix(tensors, INPUTS)
