"""CenterNet Live command line: `python main.py --help`. With no arguments it runs the demo."""
import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
