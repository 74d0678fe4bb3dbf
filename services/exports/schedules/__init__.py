"""Export schedules: a source rendered at every fire of a cadence, whole or only the rows changed in
each window, delivered to this deployment's blob store or an S3 bucket of the owner's.

`cadence` (when a schedule fires; no I/O), `rules` (what a valid schedule is), `credentials`
(destination secrets encrypted at rest), `destinations` (delivery of a run's bytes), `repository`
(its SQL), `service` (the use cases of the API), `planner` (the background loop that turns each due
window into an ordinary export job, one replica per schedule at a time), `handlers` and `messages`
(gRPC).
"""
