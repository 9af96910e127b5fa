"""One router per subject; `api.main` mounts them all."""
