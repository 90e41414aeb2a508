"""Group the examples that show one picture, so that no picture sits in two splits or folds.

Two examples of a class are one picture when they come from the same file
(same sha256: the faces of one photo), or when their 16x16 grayscale
thumbnails differ by at most ``data.near_duplicate_rms`` (root mean square,
pixel units 0-255): the same photo saved as PNG and JPEG, re-encoded or
resized. ``tests/test_duplicates.py`` measures, on scikit-learn's sample photos
and digits, that such copies stay below the default 2.0 and distinct
pictures above it.

Groups are the connected components of that relation (transitively: if A is
like B and B like C, all three are one picture).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

THUMBNAIL_SIDE = 16
ROWS_PER_BLOCK = 1024


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The 16x16 grayscale thumbnail (box filter) of an RGB uint8 image, flattened, uint8."""
    small = Image.fromarray(image).convert("L").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8).ravel()


def _near_pairs(thumbnails: np.ndarray, max_rms: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose thumbnails differ by at most ``max_rms``, in row blocks."""
    vectors = thumbnails.astype(np.float64)
    squares = (vectors**2).sum(axis=1)
    limit = max_rms**2 * vectors.shape[1] + 1e-6
    rows, columns = [], []
    for start in range(0, len(vectors), ROWS_PER_BLOCK):
        block = vectors[start : start + ROWS_PER_BLOCK]
        distances = squares[start : start + len(block), None] + squares[None, :] - 2.0 * block @ vectors.T
        i, j = np.nonzero(distances <= limit)
        i += start
        rows.append(i[i < j])
        columns.append(j[i < j])
    return np.concatenate(rows), np.concatenate(columns)


def duplicate_groups(labels: np.ndarray, sha256: np.ndarray, thumbnails: np.ndarray, max_rms: float) -> np.ndarray:
    """For each example, the index of the first example of its picture (its group).

    Only examples of the same class are grouped; ``max_rms`` 0 groups
    identical thumbnails.
    """
    labels, sha256 = np.asarray(labels), np.asarray(sha256)
    n = len(labels)
    rows, columns = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        near_i, near_j = _near_pairs(thumbnails[members], max_rms)
        _, first_index, inverse = np.unique(sha256[members], return_index=True, return_inverse=True)
        rows += [members[near_i], members]
        columns += [members[near_j], members[first_index[inverse]]]  # same file: same picture
    graph = coo_matrix((np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(columns))), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    first_of_component = np.full(component.max() + 1, n)
    np.minimum.at(first_of_component, component, np.arange(n))
    return first_of_component[component]
