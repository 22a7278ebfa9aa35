"""Backup and restore of a stack's state with restic: `python -m backup create|list|verify|restore`.

Standard library only (the backup image is python-slim plus the restic binary). What is captured,
and how each capture is kept consistent, is in `backup.sources`; restic does storage, encryption,
deduplication and retention (`backup.restic`). The job is described by a plan (`backup.plan`),
rendered from the stack's settings by `services.backup`.
"""
