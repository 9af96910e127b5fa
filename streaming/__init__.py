"""The landing layer: a Faust app whose agents land every Kafka event in `raw.<topic>` exactly
once (idempotent batches, offsets committed after the database commit) and send refused
messages to `dead-letters` and `raw.dead_letters`. Run it with `faust -A streaming.app worker`."""
