"""The ``ecozone`` command line: a click group of small subcommands over the library."""
