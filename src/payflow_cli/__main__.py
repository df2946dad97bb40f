import sys

from payflow_cli import main

sys.exit(main())
