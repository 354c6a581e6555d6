"""Tag a whole corpus: inputs streamed with ``datasets`` (:mod:`.sources`), shards and their
manifest (:mod:`.shards`), the job (:mod:`.job`), and two engines: local processes under
``accelerate`` (:mod:`.local`) and Ray Data (:mod:`.ray_engine`, only with ``swiss-ner[ray]``).

Nothing here is imported by the rest of the package, and Ray only when its engine runs.
"""
