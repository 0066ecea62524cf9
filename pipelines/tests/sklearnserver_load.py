"""Load a model directory as KServe v0.20.0's sklearn server does and answer one V2 request.

Runs in ``.venv-sklearnserver`` (kserve 0.20.0, scikit-learn 1.5.2, joblib 1.5.3: the
versions of the kserve/sklearnserver:v0.20.0 image), not in the pipelines' environment.

The file rule is ``SKLearnModel.load`` of kserve/kserve v0.20.0,
python/sklearnserver/sklearnserver/model.py, restated here because the sklearnserver
package is not published: the files directly in the model directory whose names end
in ``.joblib``, ``.pkl`` or ``.pickle``; none is ``ModelMissingError``, more than one
is an error, the one is loaded with ``joblib.load``. One addition: warnings are
errors while loading, so a pickle written by another scikit-learn
(``InconsistentVersionWarning``, which the server only logs) fails here. Prediction
goes through kserve's own V2 decoding and encoding (``get_predict_input`` on an
``InferRequest``, ``get_predict_response``), as ``SKLearnModel.predict`` does.

Usage: ``python sklearnserver_load.py MODEL_DIR '[[5.1, 3.5, 1.4, 0.2], ...]'``: prints
the V2 response as JSON, or one line on stderr and exit status 1.
"""

import json
import os
import pathlib
import sys
import warnings

import joblib
from kserve.errors import ModelMissingError
from kserve.protocol.infer_type import InferInput, InferRequest
from kserve.utils.utils import get_predict_input, get_predict_response

MODEL_EXTENSIONS = (".joblib", ".pkl", ".pickle")
MODEL_NAME = "iris-classifier"


def load(model_dir: str) -> object:
    path = pathlib.Path(model_dir)
    files = [
        path / name
        for name in os.listdir(path)
        if (path / name).is_file() and name.endswith(MODEL_EXTENSIONS)
    ]
    if not files:
        raise ModelMissingError(str(path))  # upstream passes the Path, whose str() fails
    if len(files) > 1:
        raise RuntimeError(
            f"More than one model file is detected, Only one is allowed within model_dir: "
            f"{sorted(f.name for f in files)}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return joblib.load(files[0])


def main(argv: list[str]) -> int:
    model_dir, rows = argv[1], json.loads(argv[2])
    try:
        model = load(model_dir)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    request = InferRequest(
        model_name=MODEL_NAME,
        infer_inputs=[
            InferInput(name="input-0", shape=[len(rows), len(rows[0])], datatype="FP64", data=rows)
        ],
    )
    result = model.predict(get_predict_input(request))  # type: ignore[attr-defined]
    response = get_predict_response(request, result, MODEL_NAME)
    body, _ = response.to_rest()  # (JSON body, binary output size)
    print(json.dumps(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
