"""The command line: argparse, printing and exit codes; one module per command."""
