"""The directory store, the default: an index in one folder, SQLite (documents, chunks, FTS5)
beside a FAISS file of vectors and a file of BM25 postings, one generation at a time
(``layout.py``); ``DirectoryReader`` reads it, ``DirectoryWriter`` writes it."""
