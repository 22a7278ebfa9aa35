"""Platform modules: each turns platform-neutral service descriptions into that platform's resources."""
