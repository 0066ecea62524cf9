"""Table tests of the steps' own logic: the plain functions, called in-process."""

from pathlib import Path

import pandas as pd
import pytest
from kfp.dsl import Dataset

from contract import CONTRACT_PATH, ContractError, load_contract
from pipelines.steps import data_ingestion, data_validation, feature_engineering

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"


def _iris(tmp_path: Path) -> pd.DataFrame:
    raw = Dataset(uri=str(tmp_path / "iris.csv"))
    data_ingestion(source="packaged:iris", source_version="", raw_data=raw)
    return pd.read_csv(raw.path)


def _validate(tmp_path: Path, text: str, min_rows: int = 30) -> Dataset:
    src = tmp_path / "in.csv"
    src.write_text(text)
    out = Dataset(uri=str(tmp_path / "validated.csv"))
    data_validation(raw_data=Dataset(uri=str(src)), min_rows=min_rows, validated_data=out)
    return out


def test_packaged_dataset_ships_with_scikit_learn(tmp_path: Path) -> None:
    frame = _iris(tmp_path)
    assert list(frame.columns) == HEADER.split(",")
    assert len(frame) == 150
    assert sorted(frame["species"].unique()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("s3://only-a-bucket", "[data-ingestion] source 's3://only-a-bucket' has no bucket or key"),
        ("/no/such/file.csv", "[data-ingestion] source '/no/such/file.csv' is not a readable file"),
        ("", "[data-ingestion] source '' is not a readable file"),
    ],
)
def test_ingestion_rejects_bad_sources(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ValueError, match="allowed: 'packaged:iris', an s3://") as err:
        data_ingestion(source=source, source_version="", raw_data=Dataset(uri=str(tmp_path / "x")))
    assert str(err.value).startswith(message)


def test_valid_iris_passes_validation(tmp_path: Path) -> None:
    _iris(tmp_path).to_csv(tmp_path / "good.csv", index=False)
    out = _validate(tmp_path, (tmp_path / "good.csv").read_text())
    assert out.metadata["rows"] == 150
    assert pd.read_csv(out.path).dtypes["species"] == "int64"


GOOD_ROWS = "".join(f"{5 + i % 3}.1,3.5,1.4,0.2,{i % 3}\n" for i in range(30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a,b\n1,2\n",
            "column 'sepal_length' is missing; expected columns: sepal_length, sepal_width",
        ),
        (
            HEADER + ",colour\n" + GOOD_ROWS.replace("\n", ",red\n"),
            "column 'colour' is not allowed",
        ),
        (
            HEADER + "\n" + GOOD_ROWS + "5.1,abc,1.4,0.2,0\n",
            "column 'sepal_width' has 1 non-numeric value(s) (row 32: 'abc'); "
            "allowed: numbers in (0, 50]",
        ),
        (
            HEADER + "\n" + GOOD_ROWS + "5.1,3.5,,0.2,0\n",
            "column 'petal_length' has 1 missing value(s) (first at row 32)",
        ),
        (
            HEADER + "\n" + GOOD_ROWS + "5.1,3.5,1.4,-2,0\n",
            "column 'petal_width' has 1 value(s) outside (0, 50] (row 32: -2)",
        ),
        (
            HEADER + "\n" + GOOD_ROWS + "5.1,3.5,1.4,0.2,setosa\n",
            "column 'species' has 1 value(s) not in [0, 1, 2] (row 32: 'setosa')",
        ),
        (
            HEADER + "\n" + GOOD_ROWS[: GOOD_ROWS.index("\n") + 1],
            "the dataset has 1 rows; at least min_rows=30 are required",
        ),
        (
            HEADER + "\n" + "".join(f"5.1,3.5,1.4,0.2,{i % 2}\n" for i in range(40)),
            "class 2 of column 'species' has 0 row(s)",
        ),
        ("", "the dataset is not a readable CSV"),
    ],
)
def test_validation_names_the_field_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ValueError, match=r"^\[data-validation\] ") as err:
        _validate(tmp_path, text)
    message = str(err.value)
    assert message.startswith("[data-validation] ")
    assert "\n" not in message
    assert expected in message
    assert not (tmp_path / "validated.csv").exists()


def test_feature_engineering_split_is_stratified_and_seeded(tmp_path: Path) -> None:
    frame = _iris(tmp_path)
    frame.to_csv(tmp_path / "v.csv", index=False)
    splits = []
    for run in range(2):
        train, test = (
            Dataset(uri=str(tmp_path / f"tr{run}")),
            Dataset(uri=str(tmp_path / f"te{run}")),
        )
        feature_engineering(
            validated_data=Dataset(uri=str(tmp_path / "v.csv")),
            test_size=0.2,
            seed=7,
            train_data=train,
            test_data=test,
        )
        splits.append((Path(train.path).read_bytes(), Path(test.path).read_bytes()))
    assert splits[0] == splits[1]
    test_frame = pd.read_csv(tmp_path / "te0")
    assert len(test_frame) + len(pd.read_csv(tmp_path / "tr0")) == len(frame.drop_duplicates())
    assert test_frame["species"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    with pytest.raises(
        ValueError,
        match=r"\[feature-engineering\] test_size=0.9; allowed: a fraction in \[0.05, 0.5\]",
    ):
        feature_engineering(
            validated_data=Dataset(uri=str(tmp_path / "v.csv")),
            test_size=0.9,
            seed=7,
            train_data=Dataset(uri=str(tmp_path / "a")),
            test_data=Dataset(uri=str(tmp_path / "b")),
        )


def test_contract_loads_and_rejects_missing_keys(tmp_path: Path, contract_json: dict) -> None:
    c = load_contract(CONTRACT_PATH)
    assert c.node_pool_label == contract_json["node_pool_label"]
    assert c.gpu.taint_effect == contract_json["gpu"]["taint_effect"]
    assert c.mlflow.registered_model_name == contract_json["mlflow"]["registered_model_name"]
    broken = dict(
        contract_json, gpu={k: v for k, v in contract_json["gpu"].items() if k != "taint_key"}
    )
    (tmp_path / "c.json").write_text(__import__("json").dumps(broken))
    with pytest.raises(ContractError, match=r"gpu\.taint_key: missing"):
        load_contract(tmp_path / "c.json")
