import sys

from anogan.cli import main

sys.exit(main())
