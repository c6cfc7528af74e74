"""Turning a task's DatasetRef and labelling options into fastai DataLoaders.

Only fastai's own transforms, splitters and labellers go into a DataBlock here: an export pickles
them, and anything from this package would make the export unloadable without gpulink.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from fastai.data.block import CategoryBlock, DataBlock, RegressionBlock
from fastai.data.external import URLs, untar_data
from fastai.data.transforms import (ColReader, ColSplitter, IndexSplitter, RandomSplitter,
                                    RegexLabeller, get_image_files, parent_label)
import fastai.tabular.core as tabular_core
from fastai.tabular.core import TabularPandas
from fastai.vision.augment import Resize
from fastai.vision.data import ImageBlock
from fastcore.basics import using_attr

from .job import DataError, ProtocolError, resolved


def resolve_data(ref: dict | None, data_dir: str | None, what: str) -> Path:
    """The root folder of a DatasetRef: the agent's resolved dataDir, or a download for URLs."""
    ref = ref or {}
    subdir = ref.get("subdir") or ""
    if data_dir:
        root = Path(data_dir)
    elif ref.get("fastaiUrl"):
        name = ref["fastaiUrl"]
        url = getattr(URLs, name, None)
        if not isinstance(url, str):
            raise DataError(f"{what}: fastai has no dataset URLs.{name} (see fastai.data.external.URLs)")
        root = Path(untar_data(url)) / subdir
    elif ref.get("url"):
        root = Path(untar_data(ref["url"])) / subdir
    elif ref.get("datasetId") or ref.get("agentPath"):
        raise DataError(f"{what}: the agent passed no dataDir for dataset "
                        f"{ref.get('datasetId') or ref.get('agentPath')}")
    else:
        raise DataError(f"{what}: no data given (set a dataset id, agent path, url or fastai URL)")
    if not root.is_dir():
        raise DataError(f"{what}: {root} is not a folder")
    return root


def _valid_pct(task: dict, kind: str) -> float:
    return float(resolved(task, "validPct", kind))


def _proc(name: str):
    """fastai's tabular proc a TabularProc names: TABULAR_PROC_FILL_MISSING is FillMissing."""
    words = name.removeprefix("TABULAR_PROC_").split("_") if isinstance(name, str) else []
    proc = getattr(tabular_core, "".join(w.capitalize() for w in words), None) if words else None
    if proc is None:
        raise ProtocolError(f"tabular.procs: {name!r} is not a TabularProc of the contract")
    return proc


def _images_under(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{what}: folder {folder} does not exist")
    files = list(get_image_files(folder))
    if not files:
        raise DataError(f"{what}: no images (.jpg, .png, ...) found under {folder}")
    return sorted(files)


def vision_dataloaders(task: dict, root: Path, *, seed: int, device, num_workers: int):
    """DataLoaders for a VisionTask, labelled by folder, file-name regex or CSV."""
    labels = resolved(task, "labels", "vision")
    size = int(resolved(task, "imageSize", "vision"))
    bs = int(resolved(task, "batchSize", "vision"))
    # Resize only: the spec has no augmentation setting, and the usual flips and rotations are
    # wrong for some images (digits, text); pretrained models get ImageNet stats from vision_learner.
    common = dict(blocks=(ImageBlock, CategoryBlock), item_tfms=Resize(size))
    dl_kwargs = dict(bs=bs, num_workers=num_workers, device=device)

    if "csv" in labels:
        csv = labels["csv"] or {}
        df = _read_csv(root, csv.get("csvPath") or "", "labels.csv")
        cols = list(df.columns)
        file_col = csv.get("fileColumn") or (cols[0] if cols else "")
        label_col = csv.get("labelColumn") or (cols[1] if len(cols) > 1 else "")
        valid_col = csv.get("validColumn") or ""
        for role, col in (("fileColumn", file_col), ("labelColumn", label_col),
                          ("validColumn", valid_col)):
            if col and col not in cols:
                raise DataError(f"CSV labels: {role} '{col}' is not a column of {csv.get('csvPath')} "
                                f"(columns: {', '.join(map(str, cols))})")
        if not label_col:
            raise DataError(f"CSV labels: {csv.get('csvPath')} needs a file column and a label column")
        image_root = root / (csv.get("imageDir") or "")
        missing = [f for f in df[file_col].astype(str) if not (image_root / f).is_file()]
        if missing:
            raise DataError(f"CSV labels: {len(missing)} of {len(df)} files listed in "
                            f"{csv.get('csvPath')} are missing under {image_root}, e.g. {missing[0]}")
        if valid_col:
            df[valid_col] = _bool_column(df[valid_col], f"CSV labels: validColumn '{valid_col}'")
            splitter = ColSplitter(valid_col)
        else:
            splitter = RandomSplitter(_valid_pct(task, "vision"), seed=seed)
        block = DataBlock(get_x=ColReader(file_col, pref=image_root), get_y=ColReader(label_col),
                          splitter=splitter, **common)
        return block.dataloaders(df, path=root, **dl_kwargs)

    if "fileNameRegex" in labels:
        pattern = (labels["fileNameRegex"] or {}).get("pattern") or ""
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise DataError(f"file-name labels: pattern {pattern!r} is not a valid regex: {e}") from e
        if compiled.groups < 1:
            raise DataError(f"file-name labels: pattern {pattern!r} needs a capture group for the label")
        files = _images_under(root, "file-name labels")
        unmatched = [f.name for f in files if not compiled.search(f.name)]
        if unmatched:
            raise DataError(f"file-name labels: {len(unmatched)} of {len(files)} file names do not "
                            f"match {pattern!r}, e.g. {unmatched[0]}")
        block = DataBlock(get_y=using_attr(RegexLabeller(pattern), "name"),
                          splitter=RandomSplitter(_valid_pct(task, "vision"), seed=seed), **common)
        return block.dataloaders(files, path=root, **dl_kwargs)

    folder = labels.get("folder") or {}
    train_dir, valid_dir = folder.get("trainDir") or "", folder.get("validDir") or ""
    train = _images_under(root / train_dir, "folder labels (train)")
    if valid_dir:
        valid = _images_under(root / valid_dir, "folder labels (valid)")
        splitter = IndexSplitter(list(range(len(train), len(train) + len(valid))))
        items = train + valid
    else:
        splitter = RandomSplitter(_valid_pct(task, "vision"), seed=seed)
        items = train
    if len({parent_label(f) for f in items}) < 2:
        raise DataError(f"folder labels: images under {root / train_dir} must sit in one folder per "
                        f"class (root/<label>/<image>); found a single label")
    block = DataBlock(get_y=parent_label, splitter=splitter, **common)
    return block.dataloaders(items, path=root, **dl_kwargs)


_TRUE = {"true", "t", "yes", "y", "1", "valid"}
_FALSE = {"false", "f", "no", "n", "0", "train", ""}


def _bool_column(col: pd.Series, what: str) -> pd.Series:
    """A CSV's yes/no column as booleans; `astype(bool)` would call every non-empty string True."""
    if pd.api.types.is_bool_dtype(col.dtype):
        return col
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.fillna(0) != 0
    text = col.fillna("").astype(str).str.strip().str.lower()
    unknown = sorted(set(text) - _TRUE - _FALSE)
    if unknown:
        raise DataError(f"{what} must hold true/false (or 1/0, yes/no); found {unknown[:3]}")
    return text.isin(_TRUE)


def _read_csv(root: Path, rel: str, example: str) -> pd.DataFrame:
    if not rel:
        raise DataError(f"no CSV path given (e.g. '{example}')")
    path = root / rel
    if not path.is_file():
        found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.csv"))[:10]
        hint = f"CSV files there: {', '.join(found)}" if found else "there are no CSV files there"
        raise DataError(f"CSV file {rel} not found in the dataset ({hint})")
    try:
        return pd.read_csv(path)
    except Exception as e:
        raise DataError(f"could not read {rel} as CSV: {e}") from e


def tabular_columns(df: pd.DataFrame, task: dict, target: str) -> tuple[list[str], list[str]]:
    """(categorical, continuous) columns: as given, or inferred from the column types."""
    cols = [str(c) for c in df.columns]
    cat = [str(c) for c in task.get("categoricalColumns") or []]
    cont = [str(c) for c in task.get("continuousColumns") or []]
    for role, names in (("categoricalColumns", cat), ("continuousColumns", cont)):
        bad = [n for n in names if n not in cols]
        if bad:
            raise DataError(f"{role}: {', '.join(bad)} not in the CSV header "
                            f"(columns: {', '.join(cols)})")
        if target in names:
            raise DataError(f"{role} must not include the target column '{target}'")
    if cat or cont:
        return cat, cont
    for c in cols:
        if c == target:
            continue
        dtype = df[c].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            cont.append(c)
        else:
            cat.append(c)
    return cat, cont


def tabular_dataloaders(task: dict, root: Path, *, seed: int, device, num_workers: int):
    df = _read_csv(root, task.get("csvPath") or "", "train.csv")
    target = task.get("target") or ""
    if not target:
        raise DataError("tabular: no target column given")
    if target not in df.columns:
        raise DataError(f"tabular: target column '{target}' is not in the CSV header "
                        f"(columns: {', '.join(map(str, df.columns))})")
    if df[target].isna().any():
        raise DataError(f"tabular: the target column '{target}' has {int(df[target].isna().sum())} "
                        f"empty values; drop or fill those rows")
    cat, cont = tabular_columns(df, task, target)
    procs = [_proc(p) for p in resolved(task, "procs", "tabular")]
    regression = bool(task.get("regression"))
    if regression:
        if not pd.api.types.is_numeric_dtype(df[target].dtype):
            raise DataError(f"tabular: regression needs a numeric target, '{target}' is "
                            f"{df[target].dtype}")
        df[target] = df[target].astype("float32")
    splits = RandomSplitter(_valid_pct(task, "tabular"), seed=seed)(list(range(len(df))))
    to = TabularPandas(df, procs=procs, cat_names=cat, cont_names=cont, y_names=target,
                       y_block=RegressionBlock() if regression else CategoryBlock(),
                       splits=splits, device=device)
    return to.dataloaders(bs=int(resolved(task, "batchSize", "tabular")), num_workers=num_workers,
                          device=device, path=root)
