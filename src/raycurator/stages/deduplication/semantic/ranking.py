"""`RankingStrategy`: the order of a cluster's documents; earlier ones are kept over later ones."""

from __future__ import annotations

from typing import Literal

import pandas as pd


class RankingStrategy:
    """Rank a cluster by metadata columns ("sort") or at random ("random").

    In each cluster, a document is removed when it is similar enough to one ranked before
    it, so the first-ranked documents are the ones kept.
    """

    def __init__(
        self,
        metadata_cols: list[str],
        ascending: list[bool] | bool = True,
        strategy: Literal["sort", "random"] = "sort",
        random_seed: int = 42,
    ) -> None:
        if strategy not in ("sort", "random"):
            raise ValueError(f"RankingStrategy: strategy must be 'sort' or 'random', got {strategy!r}")
        self.metadata_cols = list(metadata_cols)
        self.strategy = strategy
        self.random_seed = random_seed
        if isinstance(ascending, bool):
            self.ascending = [ascending] * len(self.metadata_cols)
        else:
            if len(ascending) != len(self.metadata_cols):
                raise ValueError(
                    f"RankingStrategy: {len(ascending)} ascending flag(s) for {len(self.metadata_cols)} column(s)"
                )
            self.ascending = list(ascending)
        if strategy == "sort" and not self.metadata_cols:
            raise ValueError("RankingStrategy: strategy 'sort' needs at least one metadata column")

    def rank_cluster(self, cluster_df: pd.DataFrame) -> pd.DataFrame:
        """`cluster_df` in ranked order (index reset)."""
        if self.strategy == "random":
            return cluster_df.sample(frac=1.0, random_state=self.random_seed, ignore_index=True)
        missing = [c for c in self.metadata_cols if c not in cluster_df.columns]
        if missing:
            raise ValueError(
                f"RankingStrategy: column(s) {missing} not in the cluster data; it has {list(cluster_df.columns)}"
            )
        return cluster_df.sort_values(
            by=self.metadata_cols, ascending=self.ascending, kind="stable", ignore_index=True
        )

    @classmethod
    def metadata_based(
        cls, metadata_cols: list[str], ascending: list[bool] | bool = True, random_seed: int = 42
    ) -> RankingStrategy:
        """Rank by `metadata_cols` (in priority order)."""
        return cls(metadata_cols=metadata_cols, ascending=ascending, strategy="sort", random_seed=random_seed)

    @classmethod
    def random(cls, random_seed: int = 42) -> RankingStrategy:
        """Rank at random (seeded)."""
        return cls(metadata_cols=[], strategy="random", random_seed=random_seed)

    def __repr__(self) -> str:
        return (
            f"RankingStrategy(metadata_cols={self.metadata_cols!r}, ascending={self.ascending!r}, "
            f"strategy={self.strategy!r}, random_seed={self.random_seed})"
        )
