"""Quality on the user's own data (`verify --data`, `hil run --data`): accuracy and a confusion
matrix (classification), MSE/MAE (regression) or ROC AUC (anomaly scores) of the generated code,
beside the TFLite int8 reference and, when given, the TFLite float model.

bit_exact says the generated code computes what TFLite computes; these figures say whether that is
any good on the samples the user cares about, and what quantization cost against the float model."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TinymlError, UsageError
from .ir import DTYPES, Graph

METRICS = ("accuracy", "mse", "mae", "auc")
_FIX_DATA = "save it with numpy.savez(path, x=samples, y=labels_or_targets) (y optional for autoencoders)."


@dataclass
class EvalData:
    """Samples in the model's input dtypes (quantized here if they came as float), the float
    samples for a float model, the targets and the metric that scores them."""

    path: str
    samples: list[list[np.ndarray]]  # per sample, one array per model input, in the input's dtype
    real: list[list[np.ndarray]]  # the same samples in real units: a float model's inputs
    y: np.ndarray | None
    metric: str


def _quantize(x: np.ndarray, s: float, zp: int, dtype: str) -> np.ndarray:
    """Round half away from zero (TFLite's QUANTIZE kernel), then clamp to the integer type."""
    info = np.iinfo(DTYPES[dtype][1])
    v = x.astype(np.float64) / s
    return np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + zp, info.min, info.max).astype(DTYPES[dtype][1])


def _input_quant(g: Graph, ti: int) -> tuple[float, int, str] | None:
    """The (scale, zero point, integer dtype) float samples are quantized with: the input's own,
    or for a float input the QUANTIZE that reads it."""
    t = g.t(ti)
    if t.dtype != "float32":
        return (float(t.quant.s), int(t.quant.zp), t.dtype) if t.quant is not None else None
    for op in g.consumers(ti):
        if op.type == "QUANTIZE":
            q = g.t(op.outputs[0])
            return float(q.quant.s), int(q.quant.zp), q.dtype
    return None


def _samples_of(x: Any, key: str, path: str, g: Graph, ti: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples in the input's dtype, the same in real units), one per row of `x`."""
    t = g.t(ti)
    x = np.asarray(x)
    shape = tuple(t.shape)
    unbatched = shape[1:] if len(shape) > 1 and shape[0] == 1 else shape
    squeezed = tuple(d for d in shape if d != 1)  # [N, 8, 8] fits an input of [1, 8, 8, 1]
    if x.ndim == 0 or len(x) == 0 or tuple(d for d in x.shape[1:] if d != 1) != squeezed:
        raise TinymlError(f"--data {path}: '{key}' has shape {list(x.shape)}, but model input {ti} ('{t.name}') takes "
                          f"{list(shape)}: give N samples as an array of shape [N, {', '.join(map(str, unbatched))}].",
                          hint=_FIX_DATA)
    x = x.reshape((len(x),) + shape)
    q = _input_quant(g, ti)
    if x.dtype.kind == "f":
        real = x.astype(np.float32)
        if t.dtype == "float32":
            return real, real
        return _quantize(x, q[0], q[1], t.dtype), real
    if x.dtype.kind in "iu" and q is not None and x.dtype == np.dtype(DTYPES[q[2]][1]):
        real = q[0] * (x.astype(np.float64) - q[1])
        return (x if t.dtype != "float32" else real), real
    want = f"float (quantized with scale {q[0]:g}, zero point {q[1]}) or {q[2]}" if q else "float32"
    raise TinymlError(f"--data {path}: '{key}' holds {x.dtype} values; model input {ti} ('{t.name}') takes {want}.",
                      hint="convert the array with .astype(numpy.float32) (real values) or to the input's integer type.")


def load_data(path: str | Path, g: Graph, metric: str | None = None, limit: int | None = None) -> EvalData:
    """Read data.npz: `x` (or x0, x1, ... for several inputs) and optional `y`; pick the metric."""
    path = str(path)
    if metric is not None and metric not in METRICS:
        raise UsageError(f"--metric {metric}: not one of {', '.join(METRICS)}.")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise TinymlError(f"--data {path}: cannot read it as a .npz file ({e}).", hint=_FIX_DATA) from None
    keys = ["x"] if len(g.inputs) == 1 else [f"x{i}" for i in range(len(g.inputs))]
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise TinymlError(f"--data {path}: no array {' or '.join(repr(k) for k in missing)} (it has: "
                          f"{', '.join(sorted(arrays)) or 'nothing'}).",
                          hint=_FIX_DATA if len(keys) == 1 else f"a model with {len(keys)} inputs takes {', '.join(keys)}.")
    per_input = [_samples_of(arrays[k], k, path, g, ti) for k, ti in zip(keys, g.inputs)]
    n = len(per_input[0][0])
    if any(len(q) != n for q, _ in per_input):
        raise TinymlError(f"--data {path}: {', '.join(f'{k} has {len(q)} samples' for k, (q, _) in zip(keys, per_input))}.")
    y = arrays.get("y")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n:
            raise TinymlError(f"--data {path}: 'y' has shape {list(y.shape)} for {n} samples in x.",
                              hint="give one label (or target row) per sample.")
        if y.dtype.kind not in "biuf":
            raise TinymlError(f"--data {path}: 'y' holds {y.dtype} values; labels must be integers, targets floats.")
    m = choose_metric(g, y, path, metric)
    count = min(n, limit) if limit else n
    samples = [[q[i] for q, _ in per_input] for i in range(count)]
    real = [[r[i] for _, r in per_input] for i in range(count)]
    return EvalData(path, samples, real, y[:count] if y is not None else None, m)


def _out_size(g: Graph) -> int:
    return int(np.prod(g.t(g.outputs[0]).shape))


def _is_autoencoder(g: Graph) -> bool:
    return len(g.inputs) == 1 and _out_size(g) == int(np.prod(g.t(g.inputs[0]).shape))


def choose_metric(g: Graph, y: np.ndarray | None, path: str, metric: str | None = None) -> str:
    """From y and the output shape: integer labels and several outputs -> accuracy; 0/1 labels and
    one output (a score) or a reconstruction -> auc; float targets, or no y with a reconstruction
    -> mse. `metric` overrides the choice, and is checked against the data."""
    k = _out_size(g)
    labels = y is not None and (y.dtype.kind in "biu" or (y.ndim == 1 and np.all(np.mod(y, 1) == 0)))
    binary = labels and y.ndim == 1 and set(np.unique(y).tolist()) <= {0, 1}  # (--metric auc: any dtype)
    if metric is None:
        if y is None:
            metric = "mse" if _is_autoencoder(g) else ""
        elif labels and y.ndim == 1 and k > 1 and not (binary and _is_autoencoder(g)):
            metric = "accuracy"  # (an output the input's size with 0/1 labels: an autoencoder, auc below)
        elif labels and y.dtype.kind in "biu" and y.ndim == 2 and y.shape[1] == k and k > 1:
            metric = "accuracy"  # one-hot
        elif binary and y.dtype.kind in "biu" and (k == 1 or _is_autoencoder(g)):
            metric = "auc"
        elif y.dtype.kind == "f" and y[0].size == k:
            metric = "mse"
        else:
            metric = ""
        if not metric:
            raise TinymlError(f"--data {path}: cannot tell how to score output 0 ({k} values) against "
                              + ("no y" if y is None else f"y of shape {list(y.shape)} ({y.dtype})") + ".",
                              hint="give y: class indices (accuracy), a float target per output value (mse), "
                              "or 0/1 for normal/anomaly (auc); or choose with --metric.")
        return metric
    bad = ""
    if metric == "accuracy" and not (labels and k > 1 and (y.ndim == 1 or y.shape[1:] == (k,))):
        bad = f"accuracy needs y with one class index (0..{k - 1}) per sample and an output of several classes"
    elif metric in ("mse", "mae") and y is not None and y[0].size != k:
        bad = f"{metric} needs y with {k} target values per sample (or no y, for an autoencoder)"
    elif metric in ("mse", "mae") and y is None and not _is_autoencoder(g):
        bad = f"{metric} without y compares the output with the input, but output 0 is not the input's size"
    elif metric == "auc" and not (binary and (k == 1 or _is_autoencoder(g))):
        bad = ("auc needs y of 0 (normal) / 1 (anomaly) per sample and an output that is a score (one value) "
               "or a reconstruction of the input")
    if bad:
        raise UsageError(f"--metric {metric} with --data {path}: {bad}.")
    return metric


def real_output(g: Graph, out: np.ndarray) -> np.ndarray:
    """Output 0 in real units (dequantized), flattened."""
    t = g.t(g.outputs[0])
    o = np.asarray(out).reshape(-1)
    if t.dtype == "float32" or t.quant is None:
        return o.astype(np.float64)
    return float(t.quant.s) * (o.astype(np.float64) - int(t.quant.zp))


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties counted half."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        raise TinymlError("auc needs both normal (y = 0) and anomalous (y = 1) samples in the data.")
    _, inv, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inv]  # average 1-based rank of each tie group
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def score(g: Graph, data: EvalData, outputs: list[np.ndarray]) -> dict[str, Any]:
    """The metric of outputs[i] (output 0 of sample i, in the output's dtype or float for a float
    model) against data.y; classification also gives the confusion matrix (rows: true class)."""
    y, m = data.y, data.metric
    if m == "accuracy":
        k = _out_size(g)
        true = (np.argmax(y, axis=1) if y.ndim == 2 else y).astype(np.int64)
        if true.min() < 0 or true.max() >= k:
            raise TinymlError(f"--data {data.path}: y has class {int(true.max() if true.max() >= k else true.min())}, "
                              f"but output 0 has {k} classes (0..{k - 1}).")
        pred = np.array([int(np.argmax(np.asarray(o).reshape(-1))) for o in outputs], np.int64)
        cm = np.zeros((k, k), np.int64)
        np.add.at(cm, (true, pred), 1)
        return {"accuracy": float(np.mean(pred == true)), "correct": int((pred == true).sum()), "confusion": cm.tolist()}
    real = np.stack([real_output(g, o) for o in outputs])
    if m == "auc":
        s = real[:, 0] if real.shape[1] == 1 else np.mean((real - _inputs_real(data)) ** 2, axis=1)
        return {"auc": auc(s, y)}
    target = _inputs_real(data) if y is None else y.reshape(len(y), -1).astype(np.float64)
    err = real - target
    return {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err)))}


def _inputs_real(data: EvalData) -> np.ndarray:
    return np.stack([s[0].reshape(-1).astype(np.float64) for s in data.real])


def float_outputs(path: str | Path, g: Graph, data: EvalData) -> list[np.ndarray]:
    """Output 0 of the TFLite float model for every sample (tflite-runtime, its default kernels)."""
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    except ImportError as e:
        raise TinymlError(f"--float-model needs tflite-runtime ({e}).", hint="pip install 'tinyml-pio[verify]'.") from None
    try:
        it = Interpreter(model_path=str(path), num_threads=1,  # no XNNPACK: TFLite's own float kernels
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise TinymlError(f"--float-model {path}: TFLite cannot load it ({str(e).strip().splitlines()[0] if str(e).strip() else e}).",
                          hint="give the float .tflite the int8 model was converted from.") from None
    ins, outs = it.get_input_details(), it.get_output_details()
    want = [tuple(g.t(t).shape) for t in g.inputs]
    if len(ins) != len(want) or any(tuple(d["shape"]) != w for d, w in zip(ins, want)) or not outs \
            or int(np.prod(outs[0]["shape"])) != _out_size(g):
        raise TinymlError(f"--float-model {path}: its inputs {[list(d['shape']) for d in ins]} and output 0 "
                          f"({int(np.prod(outs[0]['shape'])) if outs else 0} values) do not match the int8 model's "
                          f"inputs {[list(w) for w in want]} and output 0 ({_out_size(g)} values).",
                          hint="give the float model the int8 model was converted from.")
    result = []
    for s in data.real:
        for d, x in zip(ins, s):
            if np.dtype(d["dtype"]).kind != "f":
                raise TinymlError(f"--float-model {path}: input '{d['name']}' is {np.dtype(d['dtype'])}, not float.",
                                  hint="give the float model the int8 model was converted from.")
            it.set_tensor(d["index"], x.astype(d["dtype"]))
        it.invoke()
        result.append(it.get_tensor(outs[0]["index"]).copy())
    return result


def model_labels(path: str | Path) -> list[str] | None:
    """Class labels packed in the model by TFLite's metadata writer (an associated labels file in
    the zip appended to the flatbuffer), or None."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if "label" in Path(n).name.lower() and n.lower().endswith(".txt")]
            if not names:
                return None
            text = z.read(names[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return None
    return [line.strip() for line in text.splitlines() if line.strip()] or None


def evaluate(g: Graph, data: EvalData, generated: list[np.ndarray], where: str, reference: list[np.ndarray],
             float_model: str | Path | None = None, labels: list[str] | None = None) -> dict[str, Any]:
    """The report's "accuracy" section: the metric for the generated code (`where`: host or the
    board), the TFLite int8 reference and the float model; `labels` name the classes."""
    rows = {"generated": score(g, data, generated), "tflite_int8": score(g, data, reference)}
    if float_model is not None:
        rows["tflite_float"] = score(g, data, float_outputs(float_model, g, data))
    if labels is None:
        labels = model_labels(g.path)
    k = _out_size(g)
    if data.metric == "accuracy" and (labels is None or len(labels) != k):
        labels = [str(i) for i in range(k)]
    return {"data": data.path, "samples": len(data.samples), "metric": data.metric, "generated_on": where,
            "labels": labels if data.metric == "accuracy" else None,
            "same_predictions": int(sum(np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
                                        for a, b in zip(generated, reference))),
            **rows}


_NAMES = {"generated": "generated C", "tflite_int8": "TFLite int8 reference", "tflite_float": "TFLite float model"}


def _figure(metric: str, row: dict[str, Any], n: int) -> str:
    if metric == "accuracy":
        return f"{100 * row['accuracy']:.2f}% ({row['correct']}/{n})"
    if metric == "auc":
        return f"{row['auc']:.4f}"
    return f"mse {row['mse']:.6g}, mae {row['mae']:.6g}"


def text(rep: dict[str, Any]) -> str:
    """The section as text: one line per source, the confusion matrix, then (classification) the
    line `accuracy: X% (N samples)`."""
    n, m = rep["samples"], rep["metric"]
    out = [f"data {rep['data']}: {n} samples, metric {m}"]
    for key, name in _NAMES.items():
        if key in rep:
            where = f" ({rep['generated_on']})" if key == "generated" else ""
            out.append(f"  {name + where:<34} {_figure(m, rep[key], n)}")
    if m != "accuracy":
        out.append(f"{m}: " + (f"{rep['generated']['auc']:.4f}" if m == "auc" else
                               f"{rep['generated'][m]:.6g}") + f" ({n} samples)")
        return "\n".join(out)
    out.append("confusion matrix of the generated C (rows: true class, columns: predicted):")
    out.append(confusion_text(rep["generated"]["confusion"], rep["labels"]))
    out.append(f"accuracy: {100 * rep['generated']['accuracy']:.2f}% ({n} samples)")
    return "\n".join(out)


def confusion_text(cm: list[list[int]], labels: list[str]) -> str:
    names = [str(l)[:10] for l in labels]
    w = max([len(x) for x in names] + [len(str(v)) for row in cm for v in row] + [1])
    head = " " * (w + 2) + " ".join(f"{x:>{w}}" for x in names)
    return "\n".join([head] + [f"{names[i]:>{w}}  " + " ".join(f"{v:>{w}}" for v in row) for i, row in enumerate(cm)])
