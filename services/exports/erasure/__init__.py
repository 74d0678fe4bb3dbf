"""Erasure of one user everywhere (DESIGN.md "Data in and out"): the job that drives each owning
service's EraseUser, erases the exports service's own rows and export bytes, and records it.

- `models` / `repository`: the erasures table and every statement on it.
- `owned`: the exports schema's tables that hold a user's rows, and its part of an erasure
  (rows, share links and bytes in whichever blob store).
- `remote`: the prompts and files services' parts, called with the service's own identity.
- `worker`: takes unfinished erasures (any replica, leased), runs their steps, records them.
- `service` / `handlers`: start, read and preview an erasure (ErasureService).
"""
