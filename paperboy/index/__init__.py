"""Derived search indexes, rebuildable from the store: lexical (tantivy) and vectors."""
