"""Datasets: `load(name, split)` for real data, and tf.data pipelines."""

# importing a loader's module registers it
from . import fashion_edges, gtsrb, maps, mnist, rendered_maps, shapes, sine, traffic_signs  # noqa: F401,E501
from .idx import DataFileError, read_idx, write_idx
from .pipeline import batches, to_model_range, to_uint8
from .registry import ArrayDataset, DatasetUnavailable, UnknownDataset, available, load

__all__ = [
    "ArrayDataset", "DataFileError", "DatasetUnavailable", "UnknownDataset", "available",
    "batches", "load", "read_idx", "to_model_range", "to_uint8", "write_idx",
]  # fmt: skip
