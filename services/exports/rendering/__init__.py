"""Where an export gets rendered: the render pipeline (`pipeline`: read the source, render, store the
bytes), reading sources from the prompts and files services (`sources`), rows into report tables
(`reports`), stored-byte compression (`compression`), what one rendering is given and produces
(`work`), and the format writers (`renderers/`)."""
