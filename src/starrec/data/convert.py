"""Stage convert: ``data/raw/<class>/...`` into examples (each photo through
:func:`starrec.data.photos.model_inputs`, the path ``starrec predict`` and serve take too), the
classes selected, copies of one picture grouped, written as TFRecords with a manifest."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from starrec import artifacts
from starrec.atomic import write_csv, write_json
from starrec.data.duplicates import duplicate_groups, thumbnail
from starrec.data.filenames import has_ignored_part, is_ignored, rename_reason, safe_name
from starrec.data.images import RejectedImage, decode_bytes, read_file
from starrec.data.manifest import MANIFEST_COLUMNS, REJECTED_COLUMNS
from starrec.data.photos import model_inputs
from starrec.data.records import relabel, serialize_example, serialized_records, write_serialized_shards
from starrec.errors import StarrecError
from starrec.params import DataParams, FacesParams


class IngestError(StarrecError, RuntimeError):
    """The images left after decoding cannot make a data set (names the param)."""


@dataclass
class Ingested:
    """What convert wrote: the classes in label order, the manifest rows (``group``: the id of
    the first example of the same picture, :mod:`starrec.data.duplicates`), the files that gave none."""

    classes: list[str]
    manifest: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    dropped_classes: dict[str, int] = field(default_factory=dict)


def class_files(raw: Path) -> dict[str, list[Path]]:
    """Image candidates per class folder (by the folder's safe name), nested folders included,
    ignored names (:mod:`starrec.data.filenames`) left out."""
    folders = sorted(p.name for p in raw.iterdir() if p.is_dir() and not is_ignored(p.name))
    files = {}
    for folder in folders:
        paths = [p for p in (raw / folder).rglob("*") if p.is_file() and not has_ignored_part(p.relative_to(raw))]
        files[safe_name(folder)] = sorted(paths, key=lambda p: p.relative_to(raw).as_posix())
    return files


def choose_classes(found: list[str], data: DataParams) -> list[str]:
    """``data.classes`` in its order (each must exist), else every class found."""
    if data.classes is None:
        return found
    missing = [name for name in data.classes if name not in found]
    if missing:
        raise IngestError(f"data.classes: {missing} not found; the data has: {', '.join(found)}")
    return list(data.classes)


def ingest(
    raw: str | Path, data: DataParams, faces: FacesParams, size: int, directory: Path, shard_size: int
) -> Ingested:
    """Decode every candidate file of the chosen classes into ``directory``: records/,
    manifest.csv, classes.json and rejected.csv. Memory stays flat in the number of images.

    Pass one decodes each file once and streams its crops to a scratch record
    file; pass two applies the class-size rules and copies the kept examples,
    with their final labels, into shards. ``data.max_classes`` keeps the
    classes with the most images (ties by name). Classes under
    ``data.min_images_per_class`` are dropped with a note when they were
    discovered, and refused when ``data.classes`` asked for them.
    """
    raw = Path(raw)
    if not raw.is_dir():
        raise IngestError(f"{raw}: not found; run the download stage first")
    files = class_files(raw)
    chosen = choose_classes(list(files), data)
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / "candidates.tfrecord"
    rows: list[dict] = []
    thumbnails: list[np.ndarray] = []
    rejected: list[dict] = []
    with (
        tf.io.TFRecordWriter(str(scratch)) as writer,
        tqdm(total=sum(len(files[name]) for name in chosen), desc="convert", unit="file") as progress,
    ):
        for name in chosen:
            for path in files[name]:
                for crop, row in _examples(path, raw, name, faces, size, rejected):
                    writer.write(serialize_example(crop, 0, row["id"]))
                    rows.append(row)
                    thumbnails.append(thumbnail(crop))
                progress.update()
    counts = Counter(row["class"] for row in rows)
    names, dropped = _select({name: counts[name] for name in chosen}, data)
    labels = {name: label for label, name in enumerate(names)}
    write_serialized_shards(
        (
            relabel(record, labels[row["class"]])
            for record, row in zip(serialized_records([str(scratch)]), rows, strict=True)
            if row["class"] in labels
        ),
        directory / "records",
        shard_size,
    )
    scratch.unlink()
    kept = [index for index, row in enumerate(rows) if row["class"] in labels]
    manifest = [{**rows[index], "label": labels[rows[index]["class"]]} for index in kept]
    groups = duplicate_groups(
        np.asarray([row["label"] for row in manifest]),
        np.asarray([row["sha256"] for row in manifest]),
        np.asarray([thumbnails[index] for index in kept]).reshape(len(kept), -1),
        data.near_duplicate_rms,
    )
    for row, group in zip(manifest, groups, strict=True):
        row["group"] = manifest[group]["id"]
    result = Ingested(names, manifest, rejected, dropped)
    write_csv(directory / artifacts.MANIFEST.name, pd.DataFrame(result.manifest, columns=MANIFEST_COLUMNS))
    write_csv(directory / artifacts.REJECTED.name, pd.DataFrame(result.rejected, columns=REJECTED_COLUMNS))
    write_json(directory / artifacts.CLASSES.name, result.classes)
    return result


def _examples(path: Path, raw: Path, name: str, faces: FacesParams, size: int, rejected: list[dict]):
    """(crop, manifest row) of each face (or the whole image) of one file; a rejection is noted instead."""
    source = path.relative_to(raw).as_posix()
    try:
        content = _read(path, source)
        image = decode_bytes(content)
        crops = model_inputs(image, faces, size)
    except RejectedImage as reason:
        rejected.append({"source": safe_name(source), "class": name, "reason": str(reason)})
        return []
    digest = hashlib.sha256(content).hexdigest()
    height, width = image.shape[:2]
    return [
        (
            crop,
            {
                "id": source if len(crops) == 1 else f"{source}#face{number}",
                "class": name,
                "source": source,
                "sha256": digest,
                "width": width,
                "height": height,
            },
        )
        for number, crop in enumerate(crops)
    ]


def _read(path: Path, source: str) -> bytes:
    """The file's bytes; a name DVC cannot store or a read error is a :class:`RejectedImage`."""
    if safe_name(source) != source:
        raise RejectedImage(rename_reason(source))
    try:
        return read_file(path)
    except OSError as error:
        raise RejectedImage(f"unreadable: {error.strerror or error}") from None


def _select(counts: dict[str, int], data: DataParams) -> tuple[list[str], dict[str, int]]:
    """The kept classes in label order, and the dropped ones with their image counts."""
    names = list(counts)
    if data.max_classes is not None and data.max_classes < len(names):
        ranked = sorted(names, key=lambda n: (-counts[n], n))[: data.max_classes]
        names = [n for n in names if n in ranked]
    small = {n: counts[n] for n in names if counts[n] < data.min_images_per_class}
    if small and data.classes is not None:
        raise IngestError(
            f"data.min_images_per_class is {data.min_images_per_class} but these classes of "
            f"data.classes have fewer images: {small}; add photos or lower the param"
        )
    names = [n for n in names if n not in small]
    if len(names) < 2:
        raise IngestError(
            f"only {len(names)} class(es) have at least data.min_images_per_class="
            f"{data.min_images_per_class} usable images (too small: {small}); "
            "a classifier needs two or more"
        )
    return names, small


def summary(result: Ingested) -> str:
    """A per-class table of ingested and rejected files, for the terminal."""
    ingested = pd.Series([row["class"] for row in result.manifest]).value_counts()
    refused = pd.Series([row["class"] for row in result.rejected], dtype=object).value_counts()
    table = pd.DataFrame({"ingested": ingested, "rejected": refused}).fillna(0).astype(int)
    copies = sum(row["group"] != row["id"] for row in result.manifest)
    lines = [
        table.to_string(),
        f"total: {len(result.manifest)} ingested, {len(result.rejected)} rejected; "
        f"{copies} are another example's picture (same file or near-duplicate), kept together in splits and folds",
    ]
    if result.dropped_classes:
        lines.append(f"dropped (fewer than data.min_images_per_class): {json.dumps(result.dropped_classes)}")
    return "\n".join(lines)
