"""The Milvus store, for archives and deployments that outgrow one machine: the same index
in Milvus collections (``milvus://HOST:PORT[/COLLECTION]``, layout in ``reader.py``);
``MilvusReader`` reads it, ``MilvusWriter`` writes it through ``collections.py``."""
