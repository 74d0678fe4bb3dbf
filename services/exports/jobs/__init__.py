"""Background renderings: the queue of claimed jobs (`queue`), the worker that claims and runs them
(`worker`), when a request is queued and how failures are retried (`policy`), and the LISTEN/NOTIFY
wake-ups between replicas (`signals`)."""
