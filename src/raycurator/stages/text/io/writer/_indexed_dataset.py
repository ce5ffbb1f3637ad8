"""The `.bin`/`.idx` indexed-dataset format that Megatron-LM reads (`MMIDIDX`, version 1).

`.bin`: the token ids of every document, one after the other, in the index's dtype.
`.idx`, little-endian: the magic `MMIDIDX\\x00\\x00`, version (u64 = 1), dtype code (u8), number
of sequences (u64), number of document boundaries (u64 = sequences + 1), then the sequence
lengths (int32 each), the byte offset of each sequence in `.bin` (int64 each) and the document
boundaries (int64 each: 0, 1, ..., sequences, one document per sequence).
"""

from __future__ import annotations

import struct

import numpy as np

INDEX_MAGIC = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
#: Megatron's dtype codes for the token dtypes written here.
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits in it (vocabulary of at most 65,536), else int32."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.int32)


def encode_bin(sequences: list[list[int]], dtype: np.dtype) -> bytes:
    """The `.bin` bytes of `sequences`."""
    if not sequences:
        return b""
    flat = np.fromiter((t for seq in sequences for t in seq), dtype=np.int64)
    if flat.size and (flat.min() < 0 or flat.max() > np.iinfo(dtype).max):
        raise ValueError(f"token id out of range for {dtype.name}")
    return flat.astype(dtype).tobytes(order="C")


def encode_idx(lengths: list[int], dtype: np.dtype) -> bytes:
    """The `.idx` bytes for sequences of `lengths` tokens stored as `dtype`."""
    sizes = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(sizes), dtype=np.int64)
    if len(sizes) > 1:
        np.cumsum(sizes[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    documents = np.arange(len(sizes) + 1, dtype=np.int64)
    header = (
        INDEX_MAGIC
        + struct.pack("<Q", INDEX_VERSION)
        + struct.pack("<B", DTYPE_CODES[dtype])
        + struct.pack("<Q", len(sizes))
        + struct.pack("<Q", len(documents))
    )
    return header + sizes.tobytes(order="C") + pointers.tobytes(order="C") + documents.tobytes(order="C")
