"""The predict task: a finished job's exported model labels the files of an inputs dataset."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from fastai.learner import load_learner
from fastai.tabular.data import TabularDataLoaders

from . import data as datamod
from .events import prediction_item
from .job import DataError, Job, resolved

_PREDICT_CHUNK = 64
_PREDICTIONS_PER_EVENT = 1000


def predict_task(job: Job, task: dict) -> str:
    model_path = job.model_path
    if not model_path or not Path(model_path).is_file():
        raise DataError(f"predict: the model file {model_path!r} does not exist")
    with warnings.catch_warnings():
        # The export comes from a gpulink job the user ran: the insecure-pickle notice is noise.
        warnings.filterwarnings("ignore", message=".*load_learner.*")
        learn = load_learner(model_path, cpu=not job.on_cuda)
    root = datamod.resolve_data(task.get("inputs"), job.data_dir, "predict inputs")
    tabular = isinstance(learn.dls, TabularDataLoaders)
    paths = _input_files(root, task.get("inputPaths") or [], tabular)
    top_k = int(resolved(task, "topK", "predict"))
    items: list[dict] = []
    for i in range(0, len(paths), 1 if tabular else _PREDICT_CHUNK):
        if job.cancelled:
            return "cancelled"
        chunk = paths[i:i + (1 if tabular else _PREDICT_CHUNK)]
        if tabular:
            items += _predict_table(learn, root, chunk[0], top_k)
        else:
            items += _predict_files(learn, root, chunk, top_k)
    for i in range(0, max(len(items), 1), _PREDICTIONS_PER_EVENT):
        job.writer.predictions(items[i:i + _PREDICTIONS_PER_EVENT])
    job.artifacts_dir.mkdir(parents=True, exist_ok=True)
    out = job.artifacts_dir / "predictions.json"
    out.write_text(json.dumps({"items": items}, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    job.announce_artifact(out, "predictions")
    return "succeeded"


def _input_files(root: Path, given: list[str], tabular: bool) -> list[Path]:
    if given:
        paths = []
        for rel in given:
            p = root / rel
            if not p.is_file():
                raise DataError(f"predict: input {rel} is not a file in the inputs dataset")
            paths.append(p)
        return paths
    # "Every file" the model can read: a README or a stray CSV next to the images is not an input.
    if tabular:
        found = root.rglob("*.csv")
    else:
        from fastai.data.transforms import get_image_files
        found = get_image_files(root)
    paths = sorted(p for p in found
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not paths:
        raise DataError(f"predict: the inputs dataset has no {'CSV' if tabular else 'image'} files")
    return paths


def vocab_of(learn):
    """The model's class names (the target's, for a tabular model), or None for a regression."""
    vocab = getattr(learn.dls, "vocab", None)
    if vocab is not None and len(vocab) > 0 and not isinstance(vocab[-1], str) and hasattr(vocab[-1], "__len__"):
        vocab = vocab[-1]
    return [str(v) for v in vocab] if vocab is not None else None


def _label(vocab, probs: torch.Tensor, decoded, top_k: int) -> tuple[str, float, list]:
    if vocab is not None and probs.ndim == 1 and len(probs) == len(vocab):
        k = min(top_k, len(vocab))
        values, idx = probs.topk(k)
        top = [(vocab[int(j)], float(v)) for v, j in zip(values, idx)]
        if isinstance(decoded, torch.Tensor) and decoded.dtype == torch.bool:
            chosen = [j for j in range(len(vocab)) if bool(decoded[j])]
            label = ";".join(vocab[j] for j in chosen)
            prob = max((float(probs[j]) for j in chosen), default=0.0)
            return label, prob, top
        best = int(probs.argmax())
        return vocab[best], float(probs[best]), top
    value = probs.flatten()
    text = ",".join(f"{float(v):.6g}" for v in value)
    return text, 0.0, []


def _predict_files(learn, root: Path, files: list[Path], top_k: int) -> list[dict]:
    try:
        dl = learn.dls.test_dl(files, num_workers=0)
        probs, _, decoded = learn.get_preds(dl=dl, with_decoded=True)
    except Exception:
        for f in files:  # find the file at fault, for a message a person can act on
            try:
                learn.get_preds(dl=learn.dls.test_dl([f], num_workers=0))
            except Exception as e:
                raise DataError(f"predict: could not read {f.relative_to(root).as_posix()}: "
                                f"{type(e).__name__}: {e}") from e
        raise
    vocab = vocab_of(learn)
    out = []
    for i, f in enumerate(files):
        label, prob, top = _label(vocab, probs[i], decoded[i], top_k)
        out.append(prediction_item(input=f.relative_to(root).as_posix(), label=label,
                                   probability=prob, top=top))
    return out


def _predict_table(learn, root: Path, path: Path, top_k: int) -> list[dict]:
    import pandas as pd
    rel = path.relative_to(root).as_posix()
    try:
        df = pd.read_csv(path)
        dl = learn.dls.test_dl(df)
    except Exception as e:
        raise DataError(f"predict: could not read {rel} as a table for this model: "
                        f"{type(e).__name__}: {e}") from e
    probs, _, decoded = learn.get_preds(dl=dl, with_decoded=True)
    vocab = vocab_of(learn)
    out = []
    for i in range(len(df)):
        label, prob, top = _label(vocab, probs[i], decoded[i], top_k)
        out.append(prediction_item(input=f"{rel}#{i}", label=label, probability=prob, top=top))
    return out
