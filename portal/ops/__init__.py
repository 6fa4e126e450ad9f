"""Operations: the demo county, backups and restores, the static export, the development server and
small commands (``verify-log``). Each command wraps a plain function."""
