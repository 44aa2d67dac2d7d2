"""The collections of a Milvus store (see reader.py for the layout), created and dropped."""

from __future__ import annotations

import json
from typing import Any

from ..base import StoreError
from ..location import MilvusAddress
from .client import MAX_TEXT, chunks_name, docs_name, terms_name, translate

BM25 = {"bm25_k1": 1.2, "bm25_b": 0.75}
"""The parameters of SQLite FTS5's bm25(), which the directory store uses."""
HNSW = {"M": 32, "efConstruction": 80}
"""The directory store's FAISS HNSW parameters (search: milvus.HNSW_EF)."""
TERM_BYTES = 1024
"""Longest term whose chunk count is kept (longer ones are counted by search: reader.py)."""


def put_meta(client, address: MilvusAddress, key: str, value: dict[str, Any]) -> None:
    row = {"key": key, "value": json.dumps(value, ensure_ascii=False), "v": [0.0, 0.0]}
    try:
        client.upsert(address.collection, [row])
    except Exception as err:
        raise translate(err, address) from None


def ensure_meta(client, address: MilvusAddress) -> None:
    """Create the store's meta collection if it does not exist yet."""
    from pymilvus import DataType

    try:
        if client.has_collection(address.collection):
            return
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector field
        index = client.prepare_index_params()
        index.add_index(field_name="v", index_type="FLAT", metric_type="L2")
        client.create_collection(
            address.collection, schema=schema, index_params=index, consistency_level="Strong"
        )
    except Exception as err:
        if not client.has_collection(address.collection):  # else another process made it
            raise translate(err, address) from None


def create_layout(client, address: MilvusAddress, layout: int, dim: int, kind: str) -> None:
    """The chunk, document and term-count collections of one layout (one embedding model)."""
    from pymilvus import DataType, Function, FunctionType

    c = client.create_schema(auto_id=False, enable_dynamic_field=False)
    c.add_field("id", DataType.INT64, is_primary=True)
    c.add_field("doc_key", DataType.VARCHAR, max_length=64)
    for name in ("ver", "ord", "start", "end"):
        c.add_field(name, DataType.INT64)
    c.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
    c.add_field(
        "lex",
        DataType.VARCHAR,
        max_length=MAX_TEXT,
        enable_analyzer=True,
        enable_match=True,
        analyzer_params={"tokenizer": "whitespace"},
    )
    c.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    c.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    c.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["lex"],
            output_field_names=["sparse"],
        )
    )
    ci = client.prepare_index_params()
    ci.add_index(
        field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25
    )
    if kind == "hnsw":
        ci.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params=HNSW)
    else:
        ci.add_index(field_name="vector", index_type="FLAT", metric_type="IP")

    d = client.create_schema(auto_id=False, enable_dynamic_field=False)
    d.add_field("key", DataType.VARCHAR, is_primary=True, max_length=128)
    d.add_field("doc_key", DataType.VARCHAR, max_length=64)
    for name in ("part", "ver", "n_chunks", "n_parts"):
        d.add_field(name, DataType.INT64)
    for name in ("doc_id", "title", "url", "date", "author", "source", "body"):
        d.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT)
    d.add_field("hash", DataType.VARCHAR, max_length=64)
    d.add_field("indexed_at", DataType.DOUBLE)
    d.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    di = client.prepare_index_params()
    di.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    try:
        client.create_collection(
            chunks_name(address.collection, layout),
            schema=c,
            index_params=ci,
            consistency_level="Strong",
        )
        client.create_collection(
            docs_name(address.collection, layout),
            schema=d,
            index_params=di,
            consistency_level="Strong",
        )
        create_terms(client, address, layout)
    except Exception as err:
        drop_layout(client, address, layout)
        if "hnsw" in str(err).lower():
            raise StoreError(
                f"{address} offers no HNSW index (Milvus Lite has FLAT only here): "
                "build with --vector-index flat"
            ) from None
        raise translate(err, address) from None


def create_terms(client, address: MilvusAddress, layout: int) -> None:
    """The term-count collection of a layout: one row per analysed term, its chunk count."""
    from pymilvus import DataType

    t = client.create_schema(auto_id=False, enable_dynamic_field=False)
    t.add_field("term", DataType.VARCHAR, is_primary=True, max_length=TERM_BYTES)
    t.add_field("df", DataType.INT64)
    t.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    ti = client.prepare_index_params()
    ti.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    client.create_collection(
        terms_name(address.collection, layout),
        schema=t,
        index_params=ti,
        consistency_level="Strong",
    )


def drop_layout(client, address: MilvusAddress, layout: int, *, terms_only: bool = False) -> None:
    """Drop the collections of a layout (or only its term counts, to count them again)."""
    names = [terms_name(address.collection, layout)]
    if not terms_only:
        names += [chunks_name(address.collection, layout), docs_name(address.collection, layout)]
    for name in names:
        try:
            if client.has_collection(name):
                client.drop_collection(name)
        except Exception as err:
            raise translate(err, address) from None
