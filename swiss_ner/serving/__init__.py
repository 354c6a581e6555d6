"""The HTTP service behind ``swiss-ner serve``: the Inference API app (:mod:`.app`), the
request batcher (:mod:`.batcher`) and what a request may be (:mod:`.limits`).

Importing it needs the ``serve`` extra (Starlette, uvicorn); nothing else in the package
imports it.
"""
