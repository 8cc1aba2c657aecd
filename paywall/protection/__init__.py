"""Protection in the browser: the protection tags, their hashed assets, and copy tracing."""
