"""Running work: plan shards, distribute them to workers, resume, manifest and progress."""
