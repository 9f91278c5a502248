"""Per-command glue between the pure cores and the engine/writers.

A job module turns records into shard tasks (planning) and one task into one committed shard
(`run_shard`, executed in workers). The cores (`samplegen.mtcnn`, `samplegen.anchors`) stay free
of I/O; the writers stay free of MTCNN and anchor knowledge.
"""
