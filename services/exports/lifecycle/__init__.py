"""An export after it is rendered: downloads and share links (`downloads`), history and statistics
(`history`), and the background expiry and sweep of orphaned bytes (`sweeper`), over their own
repository (`repository`)."""
