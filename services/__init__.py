"""Platform-neutral descriptions of every service of the stack, built from settings and rendered documents."""
