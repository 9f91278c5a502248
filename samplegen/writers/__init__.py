"""Writers turn samples into bytes on disk, one shard at a time, atomically."""
