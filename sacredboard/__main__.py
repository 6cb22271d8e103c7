import sys

from sacredboard.cli import main

sys.exit(main())
