"""From embeddings to findings (TF-free): out-of-fold probabilities from a cross-validated
linear probe, then cleanlab's Datalab for label issues, outliers, near-duplicates and
class imbalance. Duplicates are then sorted into within a class, across classes and
across the run's split (leakage); exact copies are confirmed by sha256."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flower_edge.data.review.photos import Photos, sha256
from flower_edge.errors import FlowerEdgeError, UsageError
from flower_edge.metrics import top_k_accuracy

# The kinds of finding a photo can carry, worst-first order in the reports. Declared once:
# the CLI's --approve choices, the CSV's flags and the reports' sections come from here.
KINDS = ("label", "leakage", "cross_class_duplicate", "duplicate", "outlier")
KIND_TITLES = {"label": "likely label errors", "leakage": "duplicates across the train/val/test split (leakage)",
               "cross_class_duplicate": "duplicates filed under two classes",
               "duplicate": "duplicates within a class", "outlier": "outliers (likely not a flower photo)"}
_SPLIT_RANK = {"train": 0, "val": 1, "test": 2, "": 3}  # which copy of a duplicate to keep


@dataclass
class PhotoFinding:
    """One photo, every score. Lower scores are worse (cleanlab's convention)."""

    path: str  # relative to the data folder
    label: str
    split: str
    suggested: str
    suggested_prob: float
    label_score: float
    outlier_score: float
    duplicate_score: float
    duplicate_of: str = ""  # the copy that is kept
    duplicate_kind: str = ""  # "exact" (same bytes) or "near"
    kinds: list[str] = field(default_factory=list)
    sha256: str = ""

    def score(self, kind: str) -> float:
        return self.outlier_score if kind == "outlier" else (
            self.label_score if kind == "label" else self.duplicate_score)


@dataclass
class Review:
    """The review as data; render.py turns it into review.md / .html / .csv."""

    data: str
    embedder: str
    classes: list[str]
    class_counts: dict[str, int]
    imbalanced: bool
    probe_accuracy: float
    rows: list[PhotoFinding]
    unreadable: list[tuple[str, str]]
    has_split: bool
    seconds: dict[str, float] = field(default_factory=dict)
    run: str = ""  # --run, as given ("" without one)

    def flagged(self, kind: str) -> list[PhotoFinding]:
        """Photos flagged with `kind`, worst (lowest score) first."""
        return sorted((r for r in self.rows if kind in r.kinds), key=lambda r: (r.score(kind), r.path))

    def counts(self) -> dict[str, int]:
        return {kind: len(self.flagged(kind)) for kind in KINDS}


def require_extra():
    """Import cleanlab and scikit-learn, or a one-line error naming the extra."""
    try:
        import cleanlab  # noqa: F401
        import sklearn  # noqa: F401
        from cleanlab import Datalab  # noqa: F401  (needs cleanlab's datalab dependencies)
    except ImportError:
        raise FlowerEdgeError('data review needs the review extra: pip install "flower-edge[review]"') from None


def out_of_fold(features: np.ndarray, labels: np.ndarray, seed: int = 0, folds: int = 5,
                repeats: int = 3) -> np.ndarray:
    """Class probabilities of each photo from a logistic-regression probe that did not see it,
    averaged over `repeats` shufflings of the folds (one split's luck moves a photo's score)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    smallest = int(np.bincount(labels).min())
    if smallest < 2:
        raise UsageError("every class needs at least 2 photos for a cross-validated review; "
                         "add photos or remove the near-empty class folder")
    # One BLAS thread: OpenBLAS's threads made these small solves 4x slower on a quiet 2-core
    # machine (benchmarks/bench_review_probe.py), and far more on a busy one.
    with threadpool_limits(1):
        return cross_validated(features, labels, seed, min(folds, smallest), repeats)


def cross_validated(features: np.ndarray, labels: np.ndarray, seed: int, folds: int, repeats: int) -> np.ndarray:
    """out_of_fold's probe, under whatever thread limits the caller set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    # Unit-length features: C 10 lets the probe fit as well as a fine-tuned head's last layer.
    probe = LogisticRegression(C=10.0, max_iter=3000)
    return np.mean([cross_val_predict(probe, features, labels, method="predict_proba",
                                      cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + r))
                    for r in range(repeats)], axis=0)


def find(photos: Photos, features: np.ndarray, embedder: str, seed: int = 0) -> Review:
    """Every finding of cleanlab, per photo, plus the exact-copy and leakage checks."""
    from cleanlab import Datalab

    labels = np.asarray(photos.labels)
    hashes = [sha256(p) for p in photos.paths]
    probs = out_of_fold(features, labels, seed)
    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    lab.find_issues(pred_probs=probs, features=features,
                    issue_types={"label": {}, "outlier": {}, "near_duplicate": {}, "class_imbalance": {}})
    issues = lab.get_issues()
    rows = [PhotoFinding(path=photos.rel(i), label=photos.classes[y], split=photos.splits[i],
                         suggested=photos.classes[int(probs[i].argmax())],
                         suggested_prob=float(probs[i].max()),
                         label_score=float(issues["label_score"].iat[i]),
                         outlier_score=float(issues["outlier_score"].iat[i]),
                         duplicate_score=float(issues["near_duplicate_score"].iat[i]),
                         sha256=hashes[i])
            for i, y in enumerate(labels)]
    for i in np.flatnonzero(issues["is_label_issue"].to_numpy()):
        rows[i].kinds.append("label")
    for i in np.flatnonzero(issues["is_outlier_issue"].to_numpy()):
        rows[i].kinds.append("outlier")
    groups = _duplicate_groups(hashes, lab.get_info("near_duplicate")["near_duplicate_sets"],
                               issues["is_near_duplicate_issue"].to_numpy())
    _mark_duplicates(photos, rows, groups)
    counts = np.bincount(labels, minlength=len(photos.classes))
    return Review(data=photos.root, embedder=embedder, classes=list(photos.classes),
                  class_counts={c: int(n) for c, n in zip(photos.classes, counts)},
                  imbalanced=bool(issues["is_class_imbalance_issue"].any()),
                  probe_accuracy=top_k_accuracy(labels, probs),
                  rows=rows, unreadable=list(photos.unreadable), has_split=any(photos.splits))


def _duplicate_groups(hashes: list[str], sets, flagged: np.ndarray) -> list[set[int]]:
    """Connected groups of near-duplicates (cleanlab), joined with byte-identical files
    (cleanlab's threshold is relative, so a set of close photos could hide a copy)."""
    parent = list(range(len(hashes)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in np.flatnonzero(flagged):
        for j in sets[i]:
            parent[root(int(j))] = root(int(i))
    first: dict[str, int] = {}
    for i, digest in enumerate(hashes):
        parent[root(i)] = root(first.setdefault(digest, i))
    groups: dict[int, set[int]] = {}
    for i in range(len(parent)):
        groups.setdefault(root(i), set()).add(i)
    return [g for g in groups.values() if len(g) > 1]


def _mark_duplicates(photos: Photos, rows: list[PhotoFinding], groups: list[set[int]]) -> None:
    """Keep one copy per group (the train copy, then the first path); flag the others."""
    for group in groups:
        keep = min(group, key=lambda i: (_SPLIT_RANK.get(photos.splits[i], 3), photos.paths[i]))
        labels = {photos.labels[i] for i in group}
        splits = {photos.splits[i] for i in group} - {""}
        for i in sorted(group - {keep}):
            row = rows[i]
            row.duplicate_of = rows[keep].path
            row.duplicate_kind = "exact" if row.sha256 == rows[keep].sha256 else "near"
            kinds = []
            if len(splits) > 1 and photos.splits[i] != photos.splits[keep]:
                kinds.append("leakage")
            if len(labels) > 1:
                kinds.append("cross_class_duplicate")
            row.kinds.extend(kinds or ["duplicate"])
