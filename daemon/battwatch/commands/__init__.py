"""The subcommands behind ``battwatch <command>``, one module each, and their exit codes."""

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
