"""An MLflow model signature as V2 tensor metadata, and a V2 request as the model's feature matrix.

Pure functions of plain data (no kserve import): the model code raises the
protocol's errors from the `ValueError`s these raise.

A column-based signature (the pipeline logs the iris frame's four columns)
becomes one input tensor per column, named by the column, shape `[-1]`. A
request may send those tensors, or the single `[N, <columns>]` tensor that
KServe's sklearn runtime takes in the cluster, so the same request body works
against both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# MLflow column types -> V2 datatypes.
COLUMN_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}
# numpy dtype names (tensor specs) -> V2 datatypes.
TENSOR_DATATYPES = {
    "float64": "FP64",
    "float32": "FP32",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
    "object": "BYTES",
    "str": "BYTES",
}
NUMERIC = ("FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT8")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]

    def as_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class RequestTensor:
    """One decoded input of a request: its declared name, datatype and shape, and its data."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray


def input_specs(signature: Mapping[str, Any]) -> tuple[TensorSpec, ...]:
    """The V2 inputs of an MLmodel `signature` (its `inputs` is a JSON string)."""
    columns = _schema(signature, "inputs")
    specs = []
    for i, column in enumerate(columns):
        kind = column.get("type")
        if kind == "tensor":
            spec = column.get("tensor-spec", {})
            specs.append(
                TensorSpec(
                    column.get("name", f"input-{i}"),
                    _datatype(TENSOR_DATATYPES, spec.get("dtype"), "inputs"),
                    tuple(spec.get("shape", [-1])),
                )
            )
        else:
            specs.append(
                TensorSpec(
                    column.get("name", f"input-{i}"),
                    _datatype(COLUMN_DATATYPES, kind, "inputs"),
                    (-1,),
                )
            )
    return tuple(specs)


def output_specs(signature: Mapping[str, Any]) -> tuple[TensorSpec, ...]:
    """The V2 outputs of an MLmodel `signature`; an unnamed output is `output-<i>` as in KServe."""
    specs = []
    for i, column in enumerate(_schema(signature, "outputs")):
        if column.get("type") == "tensor":
            spec = column.get("tensor-spec", {})
            datatype = _datatype(TENSOR_DATATYPES, spec.get("dtype"), "outputs")
            shape = tuple(spec.get("shape", [-1]))
        else:
            datatype = _datatype(COLUMN_DATATYPES, column.get("type"), "outputs")
            shape = (-1,)
        specs.append(TensorSpec(column.get("name", f"output-{i}"), datatype, shape))
    return tuple(specs)


def feature_matrix(tensors: Sequence[RequestTensor], inputs: Sequence[TensorSpec]) -> np.ndarray:
    """The `[N, len(inputs)]` float matrix the estimator predicts on, in signature order.

    Raises `ValueError` with one line naming the tensor and what is allowed.
    """
    names = [spec.name for spec in inputs]
    if not tensors:
        raise ValueError(f"the request has no inputs; expected the tensors {names}.")
    for tensor in tensors:
        if tensor.datatype not in NUMERIC:
            raise ValueError(
                f"input {tensor.name!r} has datatype {tensor.datatype}; "
                f"allowed: a numeric datatype ({', '.join(NUMERIC[:4])}, ...)."
            )
    by_name = {t.name: t for t in tensors}
    if set(by_name) == set(names) and len(tensors) == len(names):
        columns = []
        for spec in inputs:
            tensor = by_name[spec.name]
            if len(tensor.shape) == 2 and tensor.shape[1] == 1:
                columns.append(tensor.data.reshape(-1))
            elif len(tensor.shape) == 1:
                columns.append(tensor.data)
            else:
                raise ValueError(
                    f"input {spec.name!r} has shape {list(tensor.shape)}; allowed: [N] or [N, 1]."
                )
        rows = {len(c) for c in columns}
        if len(rows) != 1:
            raise ValueError(
                f"inputs {names} have different lengths {sorted(rows)}; allowed: one length N."
            )
        return np.column_stack(columns).astype(np.float64)
    if len(tensors) == 1:
        (tensor,) = tensors
        if len(tensor.shape) == 2 and tensor.shape[1] == len(names):
            return tensor.data.astype(np.float64)
        raise ValueError(
            f"input {tensor.name!r} has shape {list(tensor.shape)}; "
            f"allowed: [N, {len(names)}] (columns {names}) or one [N] tensor per column."
        )
    raise ValueError(
        f"the request's inputs are {sorted(by_name)}; "
        f"allowed: the tensors {names} or one [N, {len(names)}] tensor."
    )


def _schema(signature: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    raw = signature.get(key)
    if raw is None:
        raise ValueError(f"the model's signature has no {key}; allowed: a logged signature.")
    columns = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(columns, list) or not columns:
        raise ValueError(f"the model's signature {key} is {raw!r}; allowed: a non-empty list.")
    return columns


def _datatype(table: Mapping[str, str], kind: Any, where: str) -> str:
    if kind not in table:
        raise ValueError(
            f"the model's signature {where} has type {kind!r}; allowed: {', '.join(table)}."
        )
    return table[kind]
